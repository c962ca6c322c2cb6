"""Flashing a virtual ECU through the virtual DoIP gateway: udsoncan over doipclient on the tester's
side, ISO-TP on CAN behind the gateway; the ECU handle, flasher and diagnostics are the CAN ones."""

from __future__ import annotations

from pathlib import Path

from bench.config import load_bench
from bench.image.builders import firmware_builder
from bench.rig import Bench
from bench.transport.doip_link import DoipLink

REPO = Path(__file__).resolve().parents[1]
DOIP_BENCH = REPO / "fixtures" / "benches" / "doip.yaml"


def test_an_ecu_behind_the_doip_gateway_is_flashed_end_to_end(tmp_path: Path) -> None:
    with Bench(load_bench(DOIP_BENCH), workdir=tmp_path, ecus=["bms"]) as rig:
        bms = rig.ecu("bms")
        assert isinstance(bms.link, DoipLink)
        assert bms.diagnostics.read_version() == "1.0.0"
        image = firmware_builder(REPO)("app-2.0.0")
        result = bms.flasher.flash(image)
        assert result.failure is None, result.timeline.render()
        assert all(step.outcome == "ok" for step in result.timeline.steps)
        assert result.version_after == "2.0.0" and result.bytes_sent == len(image.to_bytes())
        requests = [frame for frame in rig.traces["powertrain"].frames if frame.arbitration_id == 0x7E1]
        assert len(requests) > len(image.to_bytes()) // 64, "the download went over CAN FD behind the gateway"
