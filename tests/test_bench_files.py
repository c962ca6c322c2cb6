"""The bench files shipped for real racks load without the hardware, and what they say reaches
python-can and the instrument drivers unchanged."""

from __future__ import annotations

from pathlib import Path

import can
import pytest

from bench.cli import main
from bench.config import load_bench
from bench.transport import can_bus

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_RACK = REPO / "fixtures" / "benches" / "example-rack.yaml"
SLCAN_SIM = REPO / "fixtures" / "benches" / "slcan-sim.yaml"


@pytest.mark.parametrize("path", [EXAMPLE_RACK, SLCAN_SIM], ids=lambda path: path.name)
def test_rack_files_load_and_list_without_hardware(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_bench(path)
    assert all(ecu.virtual is None for ecu in config.ecus.values())  # real ECUs, as the bench sees them
    assert main(["list", "--bench", str(path)]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in config.ecus)


def test_example_rack_passes_each_interface_its_own_options(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, object]] = []
    virtual = can.Bus

    def python_can_bus(**kwargs: object) -> can.BusABC:  # records what python-can would be asked to open
        asked.append(kwargs)
        return virtual(interface="virtual", channel="example-rack")

    monkeypatch.setattr(can_bus.can, "Bus", python_can_bus)
    config = load_bench(EXAMPLE_RACK)
    for name, bus_config in config.buses.items():
        can_bus.open_bus(name, bus_config).shutdown()
    opened = dict(zip(config.buses, asked, strict=True))
    assert opened["powertrain"] == {"interface": "socketcan", "channel": "can0", "bitrate": 500_000, "fd": True,
                                    "data_bitrate": 2_000_000}
    pcan = opened["chassis"]
    assert pcan["interface"] == "pcan" and pcan["fd"] is True and pcan["data_bitrate"] == 2_000_000
    assert {key: pcan[key] for key in ("f_clock_mhz", "nom_brp", "nom_tseg1", "nom_tseg2", "data_tseg1")} == \
        {"f_clock_mhz": 80, "nom_brp": 1, "nom_tseg1": 129, "nom_tseg2": 30, "data_tseg1": 31}
    assert opened["body"]["interface"] == "vector" and opened["body"]["app_name"] == "ota-bench"
    assert opened["infotainment"]["interface"] == "kvaser" and opened["infotainment"]["accept_virtual"] is False
    assert opened["diagnostics"] == {"interface": "slcan", "channel": "/dev/ttyACM0", "bitrate": 500_000,
                                     "tty_baudrate": 115_200, "sleep_after_open": 0.5}
    assert opened["comfort"] == {"interface": "gs_usb", "channel": "canable", "bitrate": 500_000, "index": 0}


def test_example_rack_instruments_and_consoles_are_real_ports() -> None:
    config = load_bench(EXAMPLE_RACK)
    assert {name: power.driver for name, power in config.power.items()} == \
        {"psu_powertrain": "scpi", "psu_chassis": "scpi", "kl30_body": "relay"}
    assert config.buses["gatewayed"].gatewayed and config.buses["gatewayed"].ecu_channel == "can2"
    assert all(port.url != "pty" for port in config.serial.values())


def test_example_rack_reaches_one_ecu_through_a_real_doip_gateway() -> None:
    config = load_bench(EXAMPLE_RACK)
    assert config.doip is not None
    gateway = config.doip.entities["vehicle-gateway"]
    assert not gateway.virtual and (gateway.host, gateway.port, gateway.routes) == ("192.168.10.10", 13400,
                                                                                   {"dcu": 0x1015})
    assert [name for name, ecu in config.ecus.items() if ecu.via] == ["dcu"]
    assert {ecu.console for ecu in config.ecus.values()} >= set(config.serial)
