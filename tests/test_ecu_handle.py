"""An ECU handle says what a test did with its ECU (``reads()``), through one diagnostics object,
without opening anything the test did not use."""

from __future__ import annotations

from pathlib import Path

from bench.config import load_bench
from bench.image.builders import firmware_builder
from bench.report.versions import versions_read
from bench.rig import Bench, EcuReads

REPO = Path(__file__).resolve().parents[1]


def test_reads_are_the_versions_read_and_the_flashes_of_the_test(tmp_path: Path) -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    with Bench(config, workdir=tmp_path, ecus=["bcm", "bms"], gateway=False) as rig:
        bcm, bms = rig.ecu("bcm"), rig.ecu("bms")
        assert bcm.reads() == bms.reads() == EcuReads(versions=frozenset(), flashes=())
        assert bms.diagnostics.read_version() == "1.0.0"
        assert bms.flasher.diagnostics is bms.diagnostics  # one record of what the ECU reported
        result = bms.flasher.flash(firmware_builder(REPO)("app-2.0.0"))
        assert bms.reads() == EcuReads(versions=frozenset({"1.0.0", "2.0.0"}), flashes=(result,))
        assert bcm.reads().flashes == () and bcm.reads().versions == frozenset()
        assert versions_read(rig) == {"bms": {"1.0.0", "2.0.0"}}
        assert rig.flash_results() == [("bms", 1, result)]
