"""The catalog dimension ``transport``: ``can`` (the default, not in ids) or ``doip`` (the same ECU
reached through a DoIP entity), and the bench a scenario of each runs on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError
from bench.image.builders import firmware_builder
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.runner import play
from bench.scenarios.transport import SCENARIO_ENTITY, over_transport

REPO = Path(__file__).resolve().parents[1]
ECUS = {"bcm": "single_bank", "bms": "ab"}
HEAD = "campaign: demo\ndefaults: {to: app-2.0.0}\n"  # bodies below start on line 3


def load(tmp_path: Path, body: str) -> list[Scenario]:
    path = tmp_path / "demo.yaml"
    path.write_text(HEAD + textwrap.dedent(body))
    return load_catalog(path, ecus=ECUS)


def test_the_transport_is_in_the_id_only_when_it_is_not_can(tmp_path: Path) -> None:
    scenarios = load(tmp_path, """\
        matrix: {ecu: bcm, fault: power_cut, at: "block:3", transport: [can, doip]}
        include:
          - {ecu: bms, fault: power_cut, at: erase}
        """)

    assert [(s.id, s.transport) for s in scenarios] == [
        ("bcm-full-power_cut@block:3", "can"), ("bcm-doip-full-power_cut@block:3", "doip"),
        ("bms-full-power_cut@erase", "can")]


def test_an_unknown_transport_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, """\
            matrix: {ecu: bcm, fault: power_cut, at: erase, transport: dopi}
            """)
    assert "demo.yaml:3: matrix.transport: unknown transport 'dopi'; did you mean 'doip'? (known: can, doip)" \
        in str(error.value)


def test_over_doip_an_ecu_without_via_is_routed_by_a_gateway_added_to_the_bench() -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")
    assert config.doip is None and config.ecus["bms"].via is None

    derived, entity = over_transport(config, "bms", "doip")

    assert entity == SCENARIO_ENTITY and derived.ecus["bms"].via == SCENARIO_ENTITY
    assert derived.doip is not None
    gateway = derived.doip.entities[SCENARIO_ENTITY]
    assert gateway.virtual and gateway.port == 0 and list(gateway.routes) == ["bms"]
    assert over_transport(config, "bms", "can") == (config, None)


def test_over_can_an_ecu_the_bench_file_routes_through_doip_is_reached_on_its_bus() -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "doip.yaml")

    on_can, entity = over_transport(config, "bcm", "can")
    over_doip, own = over_transport(config, "bcm", "doip")

    assert entity is None and on_can.ecus["bcm"].via is None and on_can.ecus["bms"].via == "central-gateway"
    assert own == "central-gateway" and over_doip is config


def test_an_ecu_on_ethernet_only_cannot_be_reached_over_can() -> None:
    config = load_bench(REPO / "fixtures" / "benches" / "doip-hpc.yaml")
    assert over_transport(config, "hpc", "doip") == (config, "zone-hpc")
    with pytest.raises(ConfigError, match="ECU 'hpc' is on Ethernet only .* need transport: doip"):
        over_transport(config, "hpc", "can")


def test_a_power_cut_over_doip_is_resumed_through_the_gateway_and_captured(tmp_path: Path) -> None:
    (scenario,) = load(tmp_path, """\
        matrix: {ecu: bms, fault: power_cut, at: "block:3", transport: doip}
        """)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")

    outcome = play(config, scenario, firmware_builder(REPO), workdir=tmp_path / "run")

    cut, resumed = outcome.attempts
    assert cut.failure is not None and resumed.failure is None and resumed.resumed_from > 0
    assert outcome.injections[0].record is not None
    assert (tmp_path / "run" / f"doip-{SCENARIO_ENTITY}.pcapng").stat().st_size > 0
