"""The TCP and DoIP gateway fault kinds of catalogs on ``transport: doip``: each strikes the relay
or the virtual DoIP gateway at its trigger point, the flasher connects and activates routing again,
and the scenario ends as the ECU documents; on a ``can`` case such a kind is a catalog mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError
from bench.image.builders import firmware_builder
from bench.scenarios.catalog import Scenario, load_catalog
from bench.scenarios.runner import play
from tests.test_doip_relay_flash import doip_messages, streams

REPO = Path(__file__).resolve().parents[1]
ECUS = {"bcm": "single_bank", "bms": "ab"}
ACTIVATION_RESPONSE, SUCCESS = 0x0006, 0x10
"""ISO 13400-2 routing activation response; its code (after two addresses) for routing activated."""


def load(tmp_path: Path, body: str) -> list[Scenario]:
    path = tmp_path / "demo.yaml"
    path.write_text("campaign: demo\ndefaults: {to: app-2.0.0}\n" + textwrap.dedent(body))
    return load_catalog(path, ecus=ECUS)


def test_a_doip_kind_on_a_can_case_is_a_catalog_mistake_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, """\
            matrix: {ecu: bms, fault: [power_cut, tcp_reset], at: erase, transport: [can, doip]}
            """)
    assert str(error.value).count("tcp_reset needs transport: doip") == 1
    assert "demo.yaml:3: matrix.fault[1]: tcp_reset needs transport: doip (it acts on the tester's doip " \
           "connection); this case's transport is 'can'" in str(error.value)


def test_a_doip_kind_strikes_only_where_the_tester_talks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"demo.yaml:3: matrix.at: tcp_stall cannot strike at 'page:3'"):
        load(tmp_path, """\
            matrix: {ecu: bms, fault: tcp_stall, at: "page:3", transport: doip}
            """)


@pytest.mark.parametrize("fault, action, activations", [
    ("tcp_reset", "RST to both peers of 1 connection(s)", 2),
    ("tcp_stall", "nothing forwarded for 1.000 s", 1),
    ("tcp_half_open", "FIN to the tester on 1 connection(s)", 2),
    ("tcp_delay", "+50.0 ms per message for 0.500 s", 1),
    ("doip_gateway_reset", "DoIP gateway scenario-gateway rebooted", 2),
    ("doip_nack", "the next 1 diagnostic message(s) to 0x1011 refused with NACK 0x08 (transport protocol error)", 1),
    ("doip_nack, params: {doip_nack: {code: 0x02}}",  # invalid source address: the gateway also closes the socket
     "the next 1 diagnostic message(s) to 0x1011 refused with NACK 0x02 (invalid source address)", 2),
])
def test_each_doip_kind_strikes_mid_download_and_the_update_completes(tmp_path: Path, fault: str, action: str,
                                                                      activations: int) -> None:
    fault, _, params = fault.partition(", params: ")
    (scenario,) = load(tmp_path, f"""\
        matrix: {{ecu: bms, fault: {fault}, at: "block:3", transport: doip}}
        params: {params or "{}"}
        """)
    config = load_bench(REPO / "fixtures" / "benches" / "virtual.yaml")

    outcome = play(config, scenario, firmware_builder(REPO), workdir=tmp_path / "run")

    (injection,) = outcome.injections
    assert injection.record is not None and injection.record.detail == action
    assert outcome.attempts[-1].failure is None and outcome.attempts[-1].version_after == "2.0.0"
    by_way = streams(tmp_path / "run" / "doip-scenario-gateway.pcapng")
    accepted = [payload for (_, to_entity), stream in by_way.items() if not to_entity
                for kind, payload in doip_messages(stream) if kind == ACTIVATION_RESPONSE and payload[4] == SUCCESS]
    # (a reconnect may be refused while the gateway still holds the old socket, and tried again)
    assert len(accepted) == activations, "a connection lost is connected and routing activated again"
