"""The pytest plugin as a user meets it: options, early config errors, isolation between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A throwaway project that uses the installed plugin and the repo's firmware recipes."""
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    return pytester


def test_bad_bench_file_stops_the_run_before_any_test(suite: pytest.Pytester) -> None:
    bad = suite.path / "bad.yaml"
    bad.write_text(BENCH.read_text().replace("bitrate: 500000             # classic", "bitrat: 500000  # classic"))
    suite.makepyfile("def test_x(bench):\n    raise AssertionError('must not run')\n")
    result = suite.runpytest("--bench", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad.yaml:*: buses.body*bitrat*"])
    result.stdout.no_fnmatch_line("*must not run*")


def test_unknown_ecu_stops_the_run(suite: pytest.Pytester) -> None:
    suite.makepyfile("import pytest\n@pytest.mark.ecu('gateway')\ndef test_x(ecu):\n    pass\n")
    result = suite.runpytest("--bench", str(BENCH))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*has no such ECU*bcm, bms*", "*test_x*gateway*"])


def test_a_failing_test_leaves_the_next_one_a_powered_clean_bench(suite: pytest.Pytester) -> None:
    suite.makepyfile("""
        import pytest

        @pytest.mark.ecu("bcm")
        def test_breaks_while_the_ecu_is_off(ecu, power):
            ecu.uds.change_session(3)
            power.off()
            raise AssertionError("ECU finding")

        @pytest.mark.ecu("bcm")
        def test_next(ecu, power):
            assert power.is_on()
            assert ecu.diagnostics.read_version() == "1.0.0"
            assert ecu.sim.core().session == 0x01
    """)
    result = suite.runpytest("--bench", str(BENCH), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_bench_marker_skips_other_benches(suite: pytest.Pytester) -> None:
    suite.makepyfile("""
        import pytest

        @pytest.mark.bench("rack-7")
        def test_rack_only(bench):
            pass

        @pytest.mark.bench("virtual-bench")
        def test_here(bench):
            pass
    """)
    result = suite.runpytest("--bench", str(BENCH))
    result.assert_outcomes(passed=1, skipped=1)


def test_virtual_only_skips_on_a_real_ecu(suite: pytest.Pytester) -> None:
    text = BENCH.read_text()
    start = text.index("    virtual:                    # present only for simulated ECUs")
    end = text.index("  bms:")
    real_bcm = text[:start] + "\n" + text[end:]
    real_bcm = real_bcm.replace("    console: bcm_console        # its debug UART (see serial: above)\n", "")
    bench = suite.path / "rack.yaml"
    bench.write_text(real_bcm.replace("../../dbc/", str(REPO / "dbc") + "/")
                     .replace("../keys/", str(REPO / "fixtures" / "keys") + "/")
                     .replace("../firmware/", str(REPO / "fixtures" / "firmware") + "/")
                     .replace("../software/", str(REPO / "fixtures" / "software") + "/"))
    suite.makepyfile("""
        import pytest

        @pytest.mark.virtual_only
        @pytest.mark.ecu("bcm")
        def test_needs_a_simulator(bench_config):
            pass

        @pytest.mark.virtual_only
        @pytest.mark.ecu("bms")
        def test_on_the_simulated_one(bench_config):
            pass
    """)
    result = suite.runpytest("--bench", str(bench), "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*ECU 'bcm' is not simulated*"])
