"""`ota-bench campaign`: the mistakes a user can make are refused before the master starts, with
exit 2 and words naming what to fix; a bus that nobody serves is a bench fault (3). The master at
work against a served vehicle: tests/test_campaign_out_of_process.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]
BENCHES = REPO / "fixtures" / "benches"
PUB = REPO / "fixtures" / "keys" / "dev_ed25519.pub.pem"


def campaign(tmp_path: Path, bench: Path, *extra: str) -> int:
    return main(["campaign", "--bench", str(bench), "--manifest", str(tmp_path / "campaign.yaml"),
                 "--key", str(PUB), "--nvm", str(tmp_path / "nvm"), "--listen", "0", *extra])


def test_a_bench_with_virtual_ecus_is_refused_naming_them(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert campaign(tmp_path, BENCHES / "virtual.yaml") == 2
    assert ("the update master reaches the vehicle through the bus only; bcm, bms, eps have a 'virtual:' section"
            in capsys.readouterr().err)


def test_an_unknown_vehicle_bus_is_refused_listing_the_buses(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert campaign(tmp_path, BENCHES / "slcan-sim.yaml", "--vehicle-bus", "chassis") == 2
    assert "--vehicle-bus 'chassis': no such bus; it has: body" in capsys.readouterr().err


def test_a_missing_key_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "--bench", str(BENCHES / "slcan-sim.yaml"), "--manifest", str(tmp_path / "c.yaml"),
                 "--key", str(tmp_path / "absent.pem"), "--nvm", str(tmp_path / "nvm")]) == 2
    assert "absent.pem" in capsys.readouterr().err


def test_a_bus_nobody_serves_is_a_bench_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = tmp_path / "unserved.yaml"
    text = (BENCHES / "slcan-sim.yaml").read_text().replace("socket://127.0.0.1:20000", "socket://127.0.0.1:1")
    bench.write_text(text.replace("../../dbc/", f"{REPO}/dbc/"))
    assert campaign(tmp_path, bench) == 3
    assert "bench fault (not a finding about the ECU)" in capsys.readouterr().err
