"""`ota-bench flash` when the ECU refuses or cannot answer: the refusal in words, what the ECU
runs afterwards, and "the ECU is unpowered" instead of a bare P2 timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from udsoncan import Response, services
from udsoncan.exceptions import NegativeResponseException

import bench.cli.flash
from bench.cli import main
from bench.flash.refusals import explain
from bench.rig import Bench

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
FIRMWARE = REPO / "fixtures" / "firmware"


def flash(tmp_path: Path, ecu: str, recipe: str) -> int:
    return main(["flash", "--bench", str(BENCH), "--ecu", ecu, "--workdir", str(tmp_path),
                 "--image", str(FIRMWARE / f"{recipe}.yaml")])


def test_a_downgrade_is_refused_in_words_and_the_erased_single_bank_ecu_says_it_waits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flash(tmp_path, "bcm", "app-0.9.0-downgrade") == 1
    out, err = capsys.readouterr()
    assert ("ECU failure: bcm: RoutineControl check programming dependencies refused: status 0x04, anti-rollback: "
            "the image's security version is below the ECU's (a downgrade)") in err
    assert "bcm now holds no valid application: its bootloader waits for a valid image" in out


def test_a_foreign_key_is_refused_in_words_and_the_ab_ecu_still_runs_its_version(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flash(tmp_path, "bms", "app-2.0.0-foreign") == 1
    out, err = capsys.readouterr()
    assert "status 0x03, the signature does not verify with the ECU's trusted key (signed with another key)" in err
    assert "bms now runs version 1.0.0; ECU state: version 1.0.0" in out


def test_a_negative_response_names_what_the_code_means() -> None:
    refused = Response(services.RequestDownload, code=Response.Code.UploadDownloadNotAccepted)
    text = explain(NegativeResponseException(refused))
    assert text.endswith("(0x70): the ECU does not accept the download (memory, format or state)"), text
    voltage = Response(services.RoutineControl, code=Response.Code.VoltageTooLow)
    assert explain(NegativeResponseException(voltage)).endswith("below the ECU's programming window")


class SupplyLeftOff(Bench):
    """The bench with the BCM's supply switched off once it is up (a relay that did not close)."""

    def __enter__(self) -> Bench:
        rig = super().__enter__()
        power = rig.ecu("bcm").power
        assert power is not None
        power.off()
        return rig


def test_an_unpowered_ecu_is_named_as_such_not_as_a_bare_p2_timeout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.cli.flash, "Bench", SupplyLeftOff)
    assert flash(tmp_path, "bcm", "app-2.0.0") == 1
    err = capsys.readouterr().err
    assert "P2 timeout" in err
    assert "the ECU is unpowered: bcm's supply 'kl30_body' is off, so it cannot answer" in err
