"""The flasher waits as ISO 14229-2 says: every 0x78 restarts P2*, with no overall limit but a
step budget the profile sets; the P2/P2* the ECU announces for its session are used, the
profile's values being the floor. The virtual ECU erases slowly (``erase_time_per_sector``) and
sends 0x78 meanwhile; the bus monitor shows the exact bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError, FlashError
from bench.image import build_image
from bench.rig import Bench

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "fixtures/firmware/app-2.0.0.yaml"
ERASE_PENDING = bytes.fromhex("7F 31 78")
ERASE_DONE = bytes.fromhex("71 01 FF 00 00")
UDSONCAN_DEFAULT_OVERALL = 5.0
"""udsoncan's default ``request_timeout``: the overall limit the flasher must not inherit."""


def slow_erase_bench(tmp_path: Path, *, seconds_per_sector: float, **timing: object) -> Bench:
    """The virtual bench with only bcm, its profile's timings changed, erasing slowly."""
    config = load_bench(ROOT / "fixtures/benches/virtual.yaml")
    bcm = config.ecus["bcm"]
    profile = config.profiles[bcm.profile]
    profile = profile.model_copy(update={"timing": profile.timing.model_copy(update=timing)})
    virtual = bcm.virtual.model_copy(update={"erase_time_per_sector": seconds_per_sector})
    config = config.model_copy(update={"profiles": {**config.profiles, bcm.profile: profile},
                                       "ecus": {"bcm": bcm.model_copy(update={"virtual": virtual})}})
    return Bench(config, workdir=tmp_path, ecus=["bcm"], gateway=False)


def sectors(path: Path = IMAGE) -> int:
    return -(-len(build_image(path).to_bytes()) // 4096)


@pytest.fixture
def bench_factory(tmp_path: Path) -> Iterator:
    opened: list[Bench] = []

    def make(**kwargs: object) -> Bench:
        bench = slow_erase_bench(tmp_path / str(len(opened)), **kwargs).__enter__()
        opened.append(bench)
        return bench

    yield make
    for bench in opened:
        bench.__exit__(None, None, None)


def ecu_announces(bench: Bench, **timing: float) -> None:
    """The virtual ECU's own timings (what it announces), apart from the tester's profile."""
    handle = bench.ecu("bcm")
    handle.sim.profile = handle.sim.profile.model_copy(
        update={"timing": handle.sim.profile.timing.model_copy(update=timing)})
    handle.power.off()
    handle.power.on()


def erase_answers(bench: Bench) -> list[bytes]:
    """What the ECU answered to the erase request, in order."""
    return [e.payload for e in bench.monitor("body").events()
            if e.kind == "response" and e.sid == 0x31 and e.routine == 0xFF00]


def test_p2_star_restarts_on_every_0x78_with_no_overall_limit(bench_factory) -> None:
    # 0x78 every 200 ms (half P2*), the tester waits P2* + ΔP2 = 0.55 s after each one; the erase
    # lasts longer than udsoncan's default overall timeout and than 10 x (P2* + ΔP2), the old cap
    erase = 7.0
    assert erase > max(UDSONCAN_DEFAULT_OVERALL, 10 * (0.4 + 0.15))
    bench = bench_factory(seconds_per_sector=erase / sectors(), p2_star=0.4)
    bench.monitor("body")
    result = bench.ecu("bcm").flasher.flash(build_image(IMAGE))

    assert result.version_after == "2.0.0"
    answers = erase_answers(bench)  # the ECU spent 7 s erasing (it waits that long per sector)
    assert answers[-1] == ERASE_DONE
    pending = answers[:-1]
    assert set(pending) == {ERASE_PENDING} and len(pending) > 2


def test_a_step_budget_is_the_only_overall_limit(bench_factory) -> None:
    bench = bench_factory(seconds_per_sector=4.0 / sectors(), p2_star=0.4, step_budget={"erase": 1.5})
    bench.monitor("body")
    with pytest.raises(FlashError, match="RoutineControl erase failed: .*Global request timeout") as failure:
        bench.ecu("bcm").flasher.flash(build_image(IMAGE))

    erase = failure.value.result.timeline.steps[-1]
    assert erase.name == "RoutineControl erase" and "budget 1.5 s" in erase.detail
    assert erase.outcome == "timeout"
    pending = erase_answers(bench)
    assert len(pending) > 2 and set(pending) == {ERASE_PENDING}  # P2* restarted until the budget ran out


def test_p2_and_p2_star_announced_by_the_ecu_are_used(bench_factory) -> None:
    # the tester's profile: P2 50 ms, P2* 100 ms (+ ΔP2 150 ms); the ECU announces 600 ms and 1 s,
    # sends its first 0x78 after 300 ms and then one every 500 ms: beyond the profile's values
    bench = bench_factory(seconds_per_sector=2.0 / sectors(), p2=0.05, p2_star=0.1)
    ecu_announces(bench, p2=0.6, p2_star=1.0)
    monitor = bench.monitor("body")
    result = bench.ecu("bcm").flasher.flash(build_image(IMAGE))

    assert result.version_after == "2.0.0"
    programming = [e.payload for e in monitor.events() if e.kind == "response" and e.sid == 0x10]
    assert programming == [bytes.fromhex("50 02 02 58 00 64")]  # P2 600 ms, P2* 100 x 10 ms
    answers = erase_answers(bench)
    assert answers[-1] == ERASE_DONE and set(answers[:-1]) == {ERASE_PENDING} and len(answers) >= 3


def test_announced_values_below_the_profile_leave_its_floor(bench_factory) -> None:
    bench = bench_factory(seconds_per_sector=0.0, p2=0.2, p2_star=3.0)
    ecu_announces(bench, p2=0.05, p2_star=2.0)
    handle = bench.ecu("bcm")
    response = handle.uds.change_session(0x03)
    assert (response.service_data.p2_server_max, response.service_data.p2_star_server_max) == (0.05, 2.0)
    assert (handle.uds.server_p2, handle.uds.server_p2_star) == (0.2, 3.0)


def test_a_misspelt_step_budget_names_the_file_line_and_field(tmp_path: Path) -> None:
    shipped = ROOT / "fixtures/benches/virtual.yaml"
    text = shipped.read_text(encoding="utf-8").replace(" ../", f" {shipped.parent}/../").replace(
        "      s3: 5.0\n", "      s3: 5.0\n      step_budget: {erasing: 600}\n", 1)
    bench_file = tmp_path / "bench.yaml"
    bench_file.write_text(text, encoding="utf-8")
    line = text.splitlines().index("      step_budget: {erasing: 600}") + 1
    with pytest.raises(ConfigError) as caught:
        load_bench(bench_file)
    message = str(caught.value)
    assert f"{bench_file.resolve()}:{line}: profiles.single-bank.timing.step_budget" in message, message
    assert "'erasing'" in message and "'erase'" in message, message
