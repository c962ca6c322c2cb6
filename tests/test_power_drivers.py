"""Real power drivers (SCPI supply, serial relay) against the simulated instruments, over a
TCP socket and over a pty: switching is read back, a silent device is a BenchFault naming
its port (quickly), the SCPI dialect is configurable, drivers are chosen from the config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.config.power_models import PowerConfig
from bench.errors import BenchFault, ConfigError
from bench.instruments import (
    OutputState,
    RelaySimulator,
    RelayState,
    ScpiSupplySimulator,
)
from bench.power import ScpiSupply, SerialRelay, VirtualSupply, open_supply
from bench.power.relay import parse_answer

ANSWERS = 2.0  # seconds a healthy simulator may take: generous, never reached
SILENCE = 0.2  # the configured timeout in tests of a device that does not answer


@pytest.fixture
def psu() -> Iterator[ScpiSupplySimulator]:
    with ScpiSupplySimulator(pty=True) as sim:
        yield sim


@pytest.fixture
def relay_module() -> Iterator[RelaySimulator]:
    with RelaySimulator(pty=True, relays=16) as sim:
        yield sim


def url_of(sim: ScpiSupplySimulator | RelaySimulator, transport: str) -> str:
    assert sim.pty_path is not None
    return sim.url if transport == "socket" else sim.pty_path


@pytest.fixture(params=["socket", "pty"])
def supply(request: pytest.FixtureRequest, psu: ScpiSupplySimulator) -> Iterator[ScpiSupply]:
    with ScpiSupply("kl30", url_of(psu, request.param), timeout=ANSWERS) as driver:
        yield driver


def test_identify(supply: ScpiSupply) -> None:
    assert supply.identify() == "OTA-HIL-BENCH,SCPI-SIM,0,1.0"


def test_on_off_are_read_back(supply: ScpiSupply, psu: ScpiSupplySimulator) -> None:
    assert not supply.is_on()
    supply.on()
    assert supply.is_on() and psu.output().on
    supply.off()
    assert not supply.is_on() and not psu.output().on


def test_voltage_and_current(supply: ScpiSupply, psu: ScpiSupplySimulator) -> None:
    supply.set_voltage(12.0)
    assert supply.measure_voltage() == 0.0  # output still off
    supply.on()
    assert supply.measure_voltage() == pytest.approx(12.0)
    assert supply.measure_current() == pytest.approx(psu.load_current)
    supply.set_current_limit(0.1)
    assert supply.measure_current() == pytest.approx(0.1)
    assert psu.output() == OutputState(0, True, 12.0, 0.1)


def test_cycle_turns_the_output_off_then_on(psu: ScpiSupplySimulator) -> None:
    seen: list[bool] = []
    psu.on_change = lambda state: seen.append(state.on)
    with ScpiSupply("kl30", psu.url, timeout=ANSWERS) as supply:
        supply.on()
        supply.cycle(off_for=0)
        assert supply.is_on()
    assert seen == [True, False, True]


def test_an_output_that_does_not_switch_is_a_bench_fault(supply: ScpiSupply, psu: ScpiSupplySimulator) -> None:
    psu.ignore("output_on")
    with pytest.raises(BenchFault, match=r"power supply 'kl30' on .* still reports output off after 'OUTP ON'"):
        supply.on()


@pytest.mark.parametrize("transport", ["socket", "pty"])
def test_a_silent_supply_is_a_bench_fault_naming_its_port(psu: ScpiSupplySimulator, transport: str) -> None:
    url = url_of(psu, transport)
    with ScpiSupply("kl30", url, timeout=SILENCE) as supply:
        psu.mute()
        with pytest.raises(BenchFault) as fault:
            supply.identify()
        assert str(fault.value) == f"power supply 'kl30' on {url} did not answer '*IDN?' within {SILENCE} s"
        with pytest.raises(BenchFault, match="did not answer 'OUTP\\?'"):
            supply.on()
        psu.unmute()
        supply.on()
        assert supply.is_on()


def test_a_vanished_supply_is_a_bench_fault(psu: ScpiSupplySimulator) -> None:
    with ScpiSupply("kl30", psu.url, timeout=SILENCE) as supply:
        psu.close()
        with pytest.raises(BenchFault, match=f"power supply 'kl30' on {psu.url}"):
            supply.identify()


@pytest.mark.parametrize("url", ["/dev/no-such-supply", "socket://127.0.0.1:1"])
def test_an_unopenable_port_is_a_bench_fault_naming_it(url: str) -> None:
    with pytest.raises(BenchFault, match=f"power supply 'kl30': cannot open {url}"):
        ScpiSupply("kl30", url, timeout=SILENCE)


def test_a_rejected_setting_is_a_bench_fault(psu: ScpiSupplySimulator) -> None:
    wrong = {"set_voltage": "SOUR:VOLT:LEV {volts}"}  # not what this supply speaks
    with ScpiSupply("kl30", psu.url, timeout=ANSWERS, commands=wrong) as supply, \
            pytest.raises(BenchFault, match=r"rejected 'SOUR:VOLT:LEV 12.0': -113,\"Undefined header\""):
        supply.set_voltage(12.0)


MULTI_OUTPUT = {"output_on": "OUT{channel} 1", "output_off": "OUT{channel} 0", "output_query": "OUT{channel}?",
                "set_voltage": "VSET{channel}:{volts:.2f}", "measure_voltage": "VOUT{channel}?",
                "set_current": "ISET{channel}:{amps:.3f}", "measure_current": "IOUT{channel}?", "errors": ""}


def test_dialect_with_channel_in_each_command() -> None:
    with ScpiSupplySimulator(commands=MULTI_OUTPUT) as psu, \
            ScpiSupply("kl15", psu.url, channel=2, timeout=ANSWERS, commands=MULTI_OUTPUT) as supply:
        supply.set_voltage(5.0)
        supply.on()
        assert supply.measure_voltage() == pytest.approx(5.0)
        assert psu.output(2).on and not psu.output(1).on


def test_dialect_that_selects_the_output_first() -> None:
    dialect = {"select_channel": "INST:NSEL {channel}"}
    with ScpiSupplySimulator(commands=dialect) as psu, \
            ScpiSupply("kl30", psu.url, channel=3, timeout=ANSWERS, commands=dialect) as supply:
        supply.on()
        assert psu.output(3).on and not psu.output(1).on


@pytest.mark.parametrize(("commands", "named"), [
    ({"output_onn": "OUTP ON"}, "commands.output_onn"),
    ({"set_voltage": "VOLT {voltage}"}, "commands.set_voltage"),
    ({"output_query": ""}, "commands.output_query"),
])
def test_a_bad_dialect_is_a_config_error_naming_the_key(commands: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as error:
        ScpiSupply("kl30", "/dev/never-opened", commands=commands)
    assert error.value.field == named


@pytest.mark.parametrize("transport", ["socket", "pty"])
def test_relay_switches_and_reads_back(relay_module: RelaySimulator, transport: str) -> None:
    seen: list[RelayState] = []
    relay_module.on_change = seen.append
    with SerialRelay("kl30", url_of(relay_module, transport), channel=11, timeout=ANSWERS) as relay:
        assert not relay.is_on()
        relay.on()
        assert relay.is_on() and relay_module.state(11) and not relay_module.state(1)
        relay.cycle(off_for=0)
        relay.off()
        assert not relay.is_on()
    assert seen == [RelayState(11, True), RelayState(11, False), RelayState(11, True), RelayState(11, False)]


def test_a_stuck_relay_is_a_bench_fault(relay_module: RelaySimulator) -> None:
    relay_module.ignore("on")
    with SerialRelay("kl30", relay_module.url, channel=2, timeout=ANSWERS) as relay, \
            pytest.raises(BenchFault, match="relay 'kl30' .* reads off after 'relay on 2'"):
        relay.on()


@pytest.mark.parametrize("transport", ["socket", "pty"])
def test_a_silent_relay_is_a_bench_fault_naming_its_port(relay_module: RelaySimulator, transport: str) -> None:
    url = url_of(relay_module, transport)
    relay_module.mute()
    with SerialRelay("kl30", url, channel=0, timeout=SILENCE) as relay, pytest.raises(BenchFault) as fault:
        relay.on()
    assert str(fault.value) == f"relay 'kl30' (channel 0) on {url} did not answer 'relay on 0' within {SILENCE} s"


@pytest.mark.parametrize("raw", [b"relay read 0\n\ron\n\r>", b"\n\rrelay read 0\r\non\r\n>", b"on\n\r>",
                                 b"relay read 0\n\r on \n\r\n\r>"])
def test_relay_answers_are_parsed_with_or_without_echo(raw: bytes) -> None:
    assert parse_answer(raw, "relay read 0") == ["on"]


def test_relay_channel_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="relay channel 32"):
        SerialRelay("kl30", "/dev/never-opened", channel=32)


def test_open_supply_virtual() -> None:
    supply = open_supply("kl30", PowerConfig(driver="virtual", nominal_voltage=24.0))
    assert isinstance(supply, VirtualSupply)
    supply.on()
    assert supply.measure_voltage() == 24.0


def test_open_supply_scpi_with_its_dialect() -> None:
    with ScpiSupplySimulator(commands=MULTI_OUTPUT) as psu:
        config = PowerConfig(driver="scpi", url=psu.url, timeout=ANSWERS, channel=1, commands=MULTI_OUTPUT)
        supply = open_supply("kl30", config)
        assert isinstance(supply, ScpiSupply)
        with supply:
            supply.on()
            assert psu.output(1).on


def test_open_supply_relay(relay_module: RelaySimulator) -> None:
    assert relay_module.pty_path is not None
    supply = open_supply("kl30", PowerConfig(driver="relay", url=relay_module.pty_path, channel=5, timeout=ANSWERS))
    assert isinstance(supply, SerialRelay)
    with supply:
        supply.on()
        assert relay_module.state(5)


def test_open_supply_real_driver_with_unreachable_port() -> None:
    with pytest.raises(BenchFault, match="relay 'kl30': cannot open socket://127.0.0.1:1"):
        open_supply("kl30", PowerConfig(driver="relay", url="socket://127.0.0.1:1"))
