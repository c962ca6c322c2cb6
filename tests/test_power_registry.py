"""Power drivers by name: a lab adds its supply as one module, registered at run time or installed
under the entry-point group ``ota_hil_bench.power``, and a bench file uses it like a built-in one."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import PowerConfig, load_bench
from bench.config.registries import POWER_DRIVERS
from bench.errors import ConfigError
from bench.power import VirtualSupply, open_supply
from bench.registry import UnknownName
from bench.rig import Bench

DRIVER_MODULE = '''
class BenchPsu:
    """A lab's supply: on/off kept in memory, its own settings from ``options``."""

    def __init__(self, name, address):
        self.name, self.address, self._on = name, address, False

    @classmethod
    def from_config(cls, name, config):
        return cls(name, config.options["address"])

    def on(self):
        self._on = True

    def off(self):
        self._on = False

    def cycle(self, off_for=0.5):
        self.off()
        self.on()

    def is_on(self):
        return self._on
'''


def bench_file(tmp_path: Path, driver: str, options: str = "") -> Path:
    """A bench with one real ECU on a virtual bus, powered through ``driver``."""
    path = tmp_path / "lab.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: lab
        buses:
          body: {{interface: virtual, channel: lab-body}}
        power:
          kl30:
            driver: {driver}
        {options}
        profiles:
          sb: {{bootloader: single_bank}}
        ecus:
          door:
            bus: body
            request_id: 0x7E0
            response_id: 0x7E8
            power: kl30
            profile: sb
        """))
    return path


@pytest.fixture
def installed_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution on sys.path that declares the driver ``bench_psu`` by entry point, as a
    lab's own package does in its pyproject.toml."""
    site = tmp_path / "site"
    info = site / "lab_power-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-power\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ota_hil_bench.power]\nbench_psu = lab_power_driver:BenchPsu\n")
    (site / "lab_power_driver.py").write_text(DRIVER_MODULE)
    monkeypatch.syspath_prepend(site)
    yield "bench_psu"
    monkeypatch.delitem(sys.modules, "lab_power_driver", raising=False)


@pytest.fixture
def registered_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same driver registered at run time by ``module:class``, as a lab's conftest would."""
    (tmp_path / "lab_power_registered.py").write_text(DRIVER_MODULE)
    monkeypatch.syspath_prepend(tmp_path)
    POWER_DRIVERS.register("lab_psu", "lab_power_registered:BenchPsu")
    yield "lab_psu"
    POWER_DRIVERS.unregister("lab_psu")
    monkeypatch.delitem(sys.modules, "lab_power_registered", raising=False)


@pytest.mark.parametrize("driver_fixture", ["installed_driver", "registered_driver"])
def test_a_lab_driver_powers_an_ecu_of_a_bench(driver_fixture: str, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    driver = request.getfixturevalue(driver_fixture)
    assert driver in POWER_DRIVERS.names()
    config = load_bench(bench_file(tmp_path, driver, options="    options: {address: 'GPIB0::5'}"))
    with Bench(config, workdir=tmp_path / "work") as rig:
        supply = rig.ecu("door").power
        assert type(supply).__name__ == "BenchPsu" and supply.address == "GPIB0::5"
        assert supply.is_on()  # the bench switched it on at start


def test_the_built_in_drivers_are_loaded_by_name() -> None:
    assert {"virtual", "scpi", "relay"} <= set(POWER_DRIVERS.names())
    assert POWER_DRIVERS.load("virtual") is VirtualSupply
    assert isinstance(open_supply("kl30", PowerConfig(driver="virtual")), VirtualSupply)


def test_an_unknown_driver_names_file_line_field_and_the_known_ones(tmp_path: Path) -> None:
    path = bench_file(tmp_path, "scip").resolve()
    with pytest.raises(ConfigError) as caught:
        load_bench(path)
    message = str(caught.value)
    assert f"{path}:6: power.kl30.driver: unknown power driver 'scip'; did you mean 'scpi'?" in message
    assert "known: process, relay, scpi, virtual" in message and "ota_hil_bench.power" in message
    with pytest.raises(UnknownName, match="unknown power driver 'scip'"):
        POWER_DRIVERS.load("scip")


def test_built_in_drivers_take_no_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="power.kl30: driver 'virtual' takes no options"):
        load_bench(bench_file(tmp_path, "virtual", options="    options: {address: 1}"))


def test_a_name_is_registered_once(registered_driver: str) -> None:
    with pytest.raises(ValueError, match="power driver 'lab_psu' is already registered"):
        POWER_DRIVERS.register(registered_driver, object)
