"""A campaign the master must not install is refused before anything is flashed, each with its
own reason: tampered or foreign-signed, malformed, expired, replayed, a version set never
released together, an image that is not the one the manifest names, an ECU not running the
campaign's starting version, a vehicle not safe to update."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.image import load_private_key
from bench.rig import Bench
from bench.vehicle.acceptance import CampaignRefused
from bench.vehicle.master import UpdateMaster
from bench.vehicle.signature import sign_manifest, signature_path
from campaigns import NOW, PARKED, ROOT, UPDATE, Vehicle, make_master, virtual_bench, write_campaign


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Bench]:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", gateway=False) as bench:
        yield bench


def master(rig: Bench, tmp_path: Path, *, vehicle: Vehicle | None = None,
           now: datetime.datetime = NOW) -> UpdateMaster:
    return make_master(rig, tmp_path, vehicle, now=now)


def tampered(path: Path) -> None:
    path.write_text(path.read_text().replace("sequence: 1", "sequence: 9"))


def foreign_signed(path: Path) -> None:
    sign_manifest(path, load_private_key(ROOT / "fixtures" / "keys" / "foreign_ed25519.pem"))


def image_swapped(path: Path) -> None:
    image = path.parent / "app-1.1.0.img"
    image.write_bytes(image.read_bytes()[:-1] + b"\x00")


REFUSALS: dict[str, tuple[str, Callable[[Path], None], dict[str, object], str]] = {
    "tampered": ("signature", tampered, {}, "bad signature: the manifest was not signed by the trusted key"),
    "foreign key": ("signature", foreign_signed, {}, "unknown key id"),
    "never signed": ("signature", lambda path: signature_path(path).unlink(), {},
                     r"campaign\.yaml\.sig: cannot read the manifest or its signature: No such file"),
    "image swapped": ("digest", image_swapped, {}, "bcm: SHA-256 of app-1.1.0.img is"),
    "image of another version": ("package", lambda path: None,
                                 {"targets": {**UPDATE, "bcm": (UPDATE["bcm"][0], ("1.1.0", "app-2.1.0"))}},
                                 "bcm: app-2.1.0.img holds version 2.1.0, the manifest says 1.1.0"),
    "dependency circle": ("malformed", lambda path: None, {"after": {"bcm": ["bms"], "bms": ["bcm"]}},
                          "depend on one another in a circle"),
    "never released together": ("version_set", lambda path: None,
                                {"version_sets": [{"bcm": "1.1.0", "eps": "2.0.0", "bms": "2.0.0"}]},
                                "bms 1.1.0, eps 2.0.0: never released together"),
    "ECU the vehicle lacks": ("unknown_ecu", lambda path: None,
                              {"targets": {**UPDATE, "tbox": UPDATE["bcm"]}},
                              "cmp-1 updates tbox, which this vehicle does not have"),
    "wrong starting version": ("from_version", lambda path: None,
                               {"targets": {**UPDATE, "bcm": (("0.9.0", "app-0.9.0-downgrade"), UPDATE["bcm"][1])}},
                               "bcm runs 1.0.0, the campaign updates it from 0.9.0"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_campaign_not_to_install_is_refused_before_anything_is_flashed(rig: Bench, tmp_path: Path,
                                                                         case: str) -> None:
    reason, spoil, fields, message = REFUSALS[case]
    manifest = write_campaign(tmp_path / "cloud", **fields)  # type: ignore[arg-type]
    spoil(manifest)
    with pytest.raises(CampaignRefused, match=message) as refused:
        master(rig, tmp_path).run(manifest)
    assert refused.value.reason == reason
    assert rig.flash_results() == []


def test_an_expired_campaign_is_refused(rig: Bench, tmp_path: Path) -> None:
    manifest = write_campaign(tmp_path / "cloud")
    with pytest.raises(CampaignRefused, match="expired at 2027-01-01") as refused:
        master(rig, tmp_path, now=datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc)).run(manifest)
    assert refused.value.reason == "expired" and rig.flash_results() == []


def test_a_vehicle_not_parked_or_short_of_energy_is_not_updated(rig: Bench, tmp_path: Path) -> None:
    vehicle = Vehicle(replace(PARKED, speed=3.0, available_energy_wh=40.0))
    with pytest.raises(CampaignRefused, match="speed 3 km/h above 0; battery holds 40 Wh, the update and a "
                                              "recovery need 45 Wh") as refused:
        master(rig, tmp_path, vehicle=vehicle).run(write_campaign(tmp_path / "cloud"))
    assert refused.value.reason == "preconditions" and rig.flash_results() == []


def test_a_replayed_campaign_is_refused_once_its_sequence_was_accepted(rig: Bench, tmp_path: Path) -> None:
    only_bms = {"bms": UPDATE["bms"]}
    first = write_campaign(tmp_path / "cloud-5", targets=only_bms, after={}, sequence=5)
    assert master(rig, tmp_path).run(first).outcome == "committed"
    flashes = len(rig.flash_results())
    back = {"bms": (UPDATE["bms"][1], UPDATE["bms"][0])}
    for sequence in (5, 4):
        replayed = write_campaign(tmp_path / f"cloud-{sequence}-again", targets=back, after={}, sequence=sequence)
        with pytest.raises(CampaignRefused, match=f"sequence {sequence}, not above 5") as refused:
            master(rig, tmp_path).run(replayed)
        assert refused.value.reason == "replayed"
    assert len(rig.flash_results()) == flashes
