"""The fault-kind registry: every kind loads by name and declares what catalogs and reports read;
the intermittent supply drops the ECU's supply out as often as it says."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.faults.kinds import BUILTIN, BUS_POINTS, FAULT_KINDS, FaultKind, UnknownName, fault_kind, kind_names
from bench.errors import ConfigError
from bench.faults.kinds import FaultParams
from bench.scenarios import catalog
from bench.scenarios.catalog import load_catalog


@pytest.mark.parametrize("name", list(BUILTIN))
def test_each_registered_kind_loads_and_declares_itself(name: str) -> None:
    kind = fault_kind(name)

    assert isinstance(kind, FaultKind) and kind.name == name
    assert kind.severity in ("critical", "normal") and kind.summary
    assert kind.defaults() == kind.settings({}).model_dump()  # every parameter has a default
    while_talking = kind.on_bus or kind.transport == "doip"  # on the bus, or on the tester's DoIP connection
    assert kind.trigger_points == (BUS_POINTS if while_talking else None)
    assert kind.allows("block:3") and kind.allows("erase")
    assert kind.allows("page:3") is not while_talking and kind.allows("boot") is not while_talking


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UnknownName, match="unknown fault kind 'power_cutt'; did you mean 'power_cut'"):
        fault_kind("power_cutt")


class GlitchParams(FaultParams):
    level: int = 1


class Glitch(FaultKind):
    """A lab's own kind, kept outside the project."""

    name = "glitch"
    summary = "a glitch of the lab's own making"
    Params = GlitchParams

    def arm(self, when, ecu, params, seed):  # noqa: ANN001, ANN201 - as FaultKind.arm
        return when.custom(ecu, "glitch", lambda: f"level {params.level}")


def test_a_kind_registered_by_a_lab_is_a_catalog_fault_with_its_parameters(tmp_path: Path) -> None:
    catalog_file = tmp_path / "lab.yaml"
    catalog_file.write_text("campaign: lab\ndefaults: {to: app-2.0.0}\nmatrix: {ecu: bms, fault: glitch, at: erase}\n"
                            "params: {glitch: {level: 3}}\n")
    FAULT_KINDS.register("glitch", Glitch)
    try:
        assert kind_names()[-1] == "glitch" and fault_kind("glitch").defaults() == {"level": 1}
        [scenario] = load_catalog(catalog_file, ecus={"bms": "ab"})
        assert (scenario.fault, dict(scenario.params)) == ("glitch", {"level": 3})
        catalog_file.write_text(catalog_file.read_text().replace("level: 3", "levle: 3"))
        with pytest.raises(ConfigError, match=r"lab.yaml:4: params.glitch.levle: unknown key 'levle'; did you mean"):
            load_catalog(catalog_file, ecus={"bms": "ab"})
    finally:
        FAULT_KINDS.unregister("glitch")
        fault_kind.cache_clear()
    with pytest.raises(ConfigError, match="unknown fault kind 'glitch'"):
        load_catalog(catalog_file, ecus={"bms": "ab"})


def test_parameters_are_checked_against_the_kind() -> None:
    assert fault_kind("brown_out").settings({"volts": 8}).model_dump() == {"volts": 8.0, "lasting": 0.2}
    with pytest.raises(ValidationError):
        fault_kind("frame_loss").settings({"ratio": 1.5})
    with pytest.raises(ValidationError):
        fault_kind("power_cut").settings({"off_for": "0.05"})  # a YAML string is not a number
    with pytest.raises(ValidationError, match="period .* must be longer than off_for"):
        fault_kind("intermittent_supply").settings({"off_for": 0.2, "period": 0.1})


def test_the_catalog_reference_lists_every_kind_with_its_defaults() -> None:
    reference = " ".join((catalog.__doc__ or "").split())
    for name in kind_names():
        defaults = ", ".join(f"{key}: {value}" for key, value in fault_kind(name).defaults().items())
        assert f"``{name}``" + (f" ({defaults})" if defaults else "") in reference, name


def supply_switches(ecu) -> tuple[list[float], threading.Event]:  # noqa: ANN001 - an EcuHandle
    """Every voltage the ECU's supply outputs from now on; the event is set at the third 0 V."""
    seen: list[float] = []
    third_off = threading.Event()

    def listen(volts: float) -> None:
        seen.append(volts)
        if seen.count(0.0) == 3:
            third_off.set()

    ecu.power.attach(listen)
    return seen, third_off


@pytest.mark.ecu("bms")
def test_intermittent_supply_drops_out_as_often_as_declared_and_ends_on(ecu, faults) -> None:
    kind = fault_kind("intermittent_supply")
    params = kind.settings({"dropouts": 3, "off_for": 0.01, "period": 0.05})
    seen, third_off = supply_switches(ecu)

    injection = kind.arm(faults.now(), ecu, params, seed=0)

    assert injection.fired.is_set() and third_off.wait(30.0)  # 0.15 s on an idle host; a bound, not a timing
    faults.close()  # nothing pending is cancelled early: the series was over or ends on now
    on = ecu.power.nominal_voltage
    assert seen[0] == on and seen.count(0.0) == 3 and seen[-1] == on
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))  # off, on, off, on...
    assert "3 dropout(s) of 0.010 s every 0.050 s" in faults.timeline.render()


class LateTimers:
    """An ``Arming`` whose ``later`` actions a test runs when it likes (a loaded host runs timers late
    and in any order)."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, object]] = []

    def custom(self, ecu, name: str, act):  # noqa: ANN001, ANN201
        return act()

    def later(self, seconds: float, action) -> None:  # noqa: ANN001
        self.pending.append((seconds, action))


@pytest.mark.ecu("bms")
def test_intermittent_supply_switches_in_order_though_its_timers_run_in_reverse(ecu) -> None:  # noqa: ANN001
    kind = fault_kind("intermittent_supply")
    seen, _ = supply_switches(ecu)
    when = LateTimers()
    kind.arm(when, ecu, kind.settings({"dropouts": 3, "off_for": 0.01, "period": 0.05}), seed=0)
    assert [seconds for seconds, _ in when.pending] == pytest.approx([0.01, 0.05, 0.06, 0.10, 0.11])
    for _, action in reversed(when.pending):  # the last timer first: it runs every switch up to its own
        action()
    on = ecu.power.nominal_voltage
    assert seen == [on, 0.0, on, 0.0, on, 0.0, on] and ecu.power.is_on()


@pytest.mark.ecu("bms")
def test_restoring_the_bench_cancels_the_dropouts_still_to_come(ecu, faults) -> None:
    kind = fault_kind("intermittent_supply")
    params = kind.settings({"dropouts": 3, "off_for": 0.01, "period": 30.0})
    seen, _ = supply_switches(ecu)

    kind.arm(faults.now(), ecu, params, seed=0)
    faults.restore()

    assert seen.count(0.0) == 1 and ecu.power.is_on()
    assert kind.settle_time(params) == pytest.approx(60.01)


@pytest.mark.ecu("bcm")
def test_console_disconnect_unplugs_the_console_and_plugs_it_back(ecu, faults) -> None:
    kind = fault_kind("console_disconnect")
    params = kind.settings({"lasting": 0.2})
    console = faults.bench.console(ecu.name)
    assert console.connected

    kind.arm(faults.now(), ecu, params, seed=0)

    assert not console.connected
    for _ in range(100):  # until the timer has plugged it back (0.2 s, however loaded the machine)
        if console.connected:
            break
        threading.Event().wait(0.05)
    assert console.connected and kind.settle_time(params) == 0.2
    assert "console bcm_console disconnected for 0.200 s" in faults.timeline.render()
