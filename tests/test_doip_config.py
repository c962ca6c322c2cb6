"""The bench file's DoIP section: entities, routes and an ECU's ``via``; mistakes name file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError

BENCHES = Path(__file__).resolve().parents[1] / "fixtures" / "benches"
TEXT = ((BENCHES / "doip.yaml").read_text(encoding="utf-8")
        .replace("../../", f"{BENCHES.parents[1]}/").replace("../", f"{BENCHES.parent}/"))


def load_error(tmp_path: Path, old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"test setup: {old!r} must occur once"
    path = tmp_path / "bench.yaml"
    path.write_text(TEXT.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_bench(path)
    return str(caught.value).replace(str(path.resolve()), "FILE")


def test_the_doip_bench_names_its_entity_and_each_ecus_route() -> None:
    config = load_bench(BENCHES / "doip.yaml")
    assert config.doip is not None and config.doip.tester_address == 0x0E00
    entity = config.doip.entities["central-gateway"]
    assert (entity.logical_address, entity.port, entity.routes) == (0x1000, 0, {"bcm": 0x1010, "bms": 0x1011})
    assert {name: ecu.via for name, ecu in config.ecus.items()} == {"bcm": "central-gateway", "bms": "central-gateway"}


def test_the_virtual_bench_reaches_its_ecus_over_can() -> None:
    config = load_bench(BENCHES / "virtual.yaml")
    assert config.doip is None and all(ecu.via is None for ecu in config.ecus.values())


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    via: central-gateway        # reached", "    via: gw2  #",
     "FILE:81: ecus.bcm.via: unknown DoIP entity 'gw2'; 'doip.entities' defines: central-gateway"),
    ("        bms: 0x1011\n", "\n",
     "FILE:92: ecus.bms.via: DoIP entity 'central-gateway' does not route ECU 'bms'; add it to "
     "doip.entities.central-gateway.routes with its logical address"),
    ("        bms: 0x1011", "        bms: 0x1010",
     "FILE:40: doip.entities.central-gateway.routes.bms: logical address 0x1010 is already used by ECU 'bcm'"),
    ("        bms: 0x1011", "        bms: 0x1011\n        abs: 0x1012",
     "FILE:41: doip.entities.central-gateway.routes.abs: unknown ECU 'abs'"),
    ("  tester_address: 0x0E00", "  tester_address: 0", "FILE:30: doip.tester_address: "),
    ("      port: 0 ", "      port: 70000 ", "FILE:37: doip.entities.central-gateway.port: "),
], ids=["via an unknown entity", "via an entity that does not route it", "logical address used twice",
        "route to an unknown ECU", "reserved tester address", "port out of range"])
def test_doip_mistakes_name_the_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    message = load_error(tmp_path, old, new)
    assert expected in message, message
    assert "dbc" not in message, message  # one mistake, one problem
