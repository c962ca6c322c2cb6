"""Delta packages on the virtual ECU's bootloader, UDS byte by byte: staging, the checks that
refuse a package before anything is overwritten, patching at the next start, and power cuts at
every step of the patch (sequential on A/B, in-place on single bank) — the ECU always ends with
the old or the new image whole, and resumes where it stopped without anything downloaded again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from bench.config.models import DeltaSupport
from bench.image import (DeltaPackage, FirmwareImage, PatchLayout, build_delta, create_delta_package,
                         load_private_key)
from bench.sim.nvm import PowerLost
from bench.sim.patching import patch_steps
from sim_factory import (FIRMWARE, KEYS, PAGE, SECTOR, SimEcu, blocks, check_dependencies, check_memory, erase, h,
                         recipe, request_download, transfer)

STAGE, STAGE_SIZE = 0x0020_0000, 0x0002_0000
KINDS = ["single_bank", "ab"]
OK = {"memory": h("71 01 02 02 00"), "dependencies": h("71 01 FF 01 00")}


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def delta_ecu(make_ecu) -> Callable[..., SimEcu]:
    """``delta_ecu("ab")``: an ECU running app-1.0.0 that takes delta packages (staging at STAGE)."""
    return lambda kind, **profile: make_ecu(kind, delta=DeltaSupport(address=STAGE, size=STAGE_SIZE), **profile)


def package(ecu: SimEcu, base: str = "app-1.0.0", target: str = "app-1.1.0",
            layout: PatchLayout | None = None) -> DeltaPackage:
    return build_delta(FIRMWARE / f"{base}.yaml", FIRMWARE / f"{target}.yaml",
                       layout or PatchLayout.for_profile(ecu.profile))


def start_staging(ecu: SimEcu, data: bytes) -> list[bytes]:
    """Programming session, erase and RequestDownload in the staging area; the blocks to send."""
    ecu.enter_programming()
    assert ecu.send(erase(STAGE, len(data))) == h("71 01 FF 00 00")
    assert ecu.send(request_download(STAGE, len(data)))[:1] == h("74")
    return blocks(data, ecu.profile.max_block_length - 2)


def stage(ecu: SimEcu, data: bytes) -> None:
    for counter, chunk in enumerate(start_staging(ecu, data), start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter & 0xFF]), f"block {counter}"
    assert ecu.send("37") == h("77")


def arm(ecu: SimEcu, delta: DeltaPackage) -> None:
    stage(ecu, delta.to_bytes())
    assert ecu.send(check_memory()) == OK["memory"]
    assert ecu.send(check_dependencies()) == OK["dependencies"]


def target_bank(ecu: SimEcu) -> int:
    return 0 if ecu.layout.bank_count == 1 else 1


def version(ecu: SimEcu) -> bytes | None:
    return ecu.send("22 F1 89")


def holds(ecu: SimEcu, bank: int, image: FirmwareImage) -> bool:
    return ecu.bank_bytes(bank, len(image.to_bytes())) == image.to_bytes()


def assert_never_a_mix(ecu: SimEcu, old: FirmwareImage, new: FirmwareImage) -> None:
    """Every bank the bootloader calls valid holds the old or the new image exactly; an A/B ECU
    always keeps a valid one."""
    record = ecu.record
    for bank, info in enumerate(record.banks):
        if info.valid:
            image = {old.header.version: old, new.header.version: new}[info.version]
            assert holds(ecu, bank, image), f"bank {bank} is called {info.version} but holds something else"
    if ecu.layout.bank_count == 2:
        assert record.banks[record.active_bank].valid


def cut_at(ecu: SimEcu, point: str, nth: int) -> None:
    """Cut power the ``nth`` time (from 1) probe ``point`` is reached, counted from now."""
    seen = 0

    def probe(reached: str, index: int) -> None:
        nonlocal seen
        if reached == point:
            seen += 1
            if seen == nth:
                ecu.cut_power()

    ecu.on_probe = probe


def refused_before_anything_is_written(ecu: SimEcu, old: FirmwareImage) -> None:
    record = ecu.record
    assert not record.patch_type and record.journal.empty
    assert record.banks[0].valid and holds(ecu, 0, old)
    if ecu.layout.bank_count == 2:
        assert not record.banks[1].valid  # the factory left bank B empty, and so did the refusal
    ecu.power_on()
    assert version(ecu) == h("62 F1 89") + b"1.0.0"


# -- the update ---------------------------------------------------------------------------------

def test_delta_update(delta_ecu, kind: str) -> None:
    ecu = delta_ecu(kind)
    old, new = recipe("app-1.0.0"), recipe("app-1.1.0")
    delta = package(ecu)
    assert delta.header.patch_type == ("sequential" if kind == "ab" else "in-place")
    arm(ecu, delta)
    assert holds(ecu, 0, old) and ecu.record.banks[0].valid  # nothing patched before the reset
    assert ecu.record.patch_type == delta.header.patch_type
    ecu.probe_hits.clear()
    ecu.power_on()
    assert ecu.probe_hits["patch_step"] == patch_steps(delta, SECTOR)
    assert version(ecu) == h("62 F1 89") + b"1.1.0"
    assert holds(ecu, target_bank(ecu), new)
    record = ecu.record
    assert not record.patch_type and record.banks[target_bank(ecu)].version == "1.1.0"
    if kind == "ab":  # the previous bank stays whole for a rollback
        assert record.active_bank == 1 and record.banks[0].valid and holds(ecu, 0, old)
    assert ecu.send("22 FD 03") == h("62 FD 03") + new.digest


def test_image_digest_did(delta_ecu, make_ecu) -> None:
    ecu = delta_ecu("single_bank")
    assert ecu.send("22 FD 03") == h("62 FD 03") + hashlib.sha256(recipe("app-1.0.0").to_bytes()).digest()
    empty = make_ecu("single_bank", factory_image=None)
    assert empty.send("22 FD 03") == h("7F 22 22")


def test_staging_download_leaves_the_application_alone(delta_ecu, kind: str) -> None:
    ecu = delta_ecu(kind)
    old = recipe("app-1.0.0")
    stage(ecu, package(ecu).to_bytes())
    ecu.power_on()  # staged but never checked: nothing is armed
    assert version(ecu) == h("62 F1 89") + b"1.0.0" and holds(ecu, 0, old)


def test_erase_cancels_an_armed_job(delta_ecu, kind: str) -> None:
    ecu = delta_ecu(kind)
    delta = package(ecu)
    arm(ecu, delta)
    assert ecu.send(erase(STAGE, len(delta.to_bytes()))) == h("71 01 FF 00 00")
    assert not ecu.record.patch_type
    ecu.power_on()
    assert version(ecu) == h("62 F1 89") + b"1.0.0" and holds(ecu, 0, recipe("app-1.0.0"))


# -- power cuts while patching -------------------------------------------------------------------

def test_power_cut_at_every_patch_step(delta_ecu, kind: str) -> None:
    old, new = recipe("app-1.0.0"), recipe("app-1.1.0")
    delta = package(delta_ecu(kind))
    steps = patch_steps(delta, SECTOR)
    assert steps > 10
    for step in range(steps):
        ecu = delta_ecu(kind)
        arm(ecu, delta)
        cut_at(ecu, "patch_step", step + 1)
        with pytest.raises(PowerLost):
            ecu.power_on()
        assert ecu.record.patch_steps_done == step, f"step {step}"
        assert_never_a_mix(ecu, old, new)
        ecu.on_probe = None
        ecu.probe_hits.clear()
        ecu.power_on()  # no tester, no download: the bootloader continues on its own
        assert ecu.probe_hits["patch_step"] == steps - step, f"step {step}: not resumed where it stopped"
        assert version(ecu) == h("62 F1 89") + b"1.1.0", f"step {step}"
        assert holds(ecu, target_bank(ecu), new) and not ecu.record.patch_type
        assert_never_a_mix(ecu, old, new)
        ecu.close()


@pytest.mark.parametrize(("point", "nth"), [
    ("erase_sector_half", 1), ("erase_sector_half", 9), ("erase_sector_half", 17), ("erase_sector_half", 30),
    ("program_page_half", 1), ("program_page_half", 120), ("program_page_half", 255), ("program_page_half", 400),
])
def test_power_cut_tearing_a_patch_sector(delta_ecu, kind: str, point: str, nth: int) -> None:
    old, new = recipe("app-1.0.0"), recipe("app-1.1.0")
    ecu = delta_ecu(kind)
    delta = package(ecu)
    arm(ecu, delta)
    cut_at(ecu, point, nth)
    try:
        ecu.power_on()
    except PowerLost:
        assert_never_a_mix(ecu, old, new)
    else:  # sequential patches have fewer sectors than in-place ones: this point is past their end
        assert nth > patch_steps(delta, SECTOR) * (1 if point.startswith("erase") else SECTOR // PAGE)
    ecu.on_probe = None
    ecu.power_on()
    assert version(ecu) == h("62 F1 89") + b"1.1.0"
    assert holds(ecu, target_bank(ecu), new)


def test_power_cut_again_while_resuming(delta_ecu, kind: str) -> None:
    old, new = recipe("app-1.0.0"), recipe("app-1.1.0")
    ecu = delta_ecu(kind)
    delta = package(ecu)
    arm(ecu, delta)
    for nth, done in ((4, 3), (6, 8)):  # 3 steps, then 5 more in the first resume
        cut_at(ecu, "patch_step", nth)
        with pytest.raises(PowerLost):
            ecu.power_on()
        assert ecu.record.patch_steps_done == done
        assert_never_a_mix(ecu, old, new)
    ecu.on_probe = None
    ecu.probe_hits.clear()
    ecu.power_on()
    assert ecu.probe_hits["patch_step"] == patch_steps(delta, SECTOR) - 8
    assert version(ecu) == h("62 F1 89") + b"1.1.0" and holds(ecu, target_bank(ecu), new)


def test_power_cut_while_downloading_the_package_resumes_the_download(delta_ecu, kind: str) -> None:
    old = recipe("app-1.0.0")
    ecu = delta_ecu(kind, max_block_length=2 + 1024)
    delta = package(ecu, target="app-2.0.0")  # unrelated code: a package of many sectors
    data = delta.to_bytes()
    parts = start_staging(ecu, data)
    cut_at(ecu, "program_page", 70)  # 17.5 KiB in: in the 18th 1 KiB block, the 5th sector
    with pytest.raises(PowerLost):
        for counter, chunk in enumerate(parts, start=1):
            ecu.send(transfer(counter, chunk))
    ecu.on_probe = None
    ecu.power_on()
    assert version(ecu) == h("62 F1 89") + b"1.0.0" and holds(ecu, 0, old)  # the old image runs meanwhile
    journal = ecu.record.journal
    assert journal.committed == 4 * SECTOR and journal.header_digest == delta.header_digest
    ecu.enter_programming()
    assert ecu.send(request_download(STAGE + journal.committed, len(data) - journal.committed))[:1] == h("74")
    for counter, chunk in enumerate(blocks(data[journal.committed:], 1024), start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter & 0xFF])
    assert ecu.send("37") == h("77")
    assert ecu.send(check_memory()) == OK["memory"]
    assert ecu.send(check_dependencies()) == OK["dependencies"]
    ecu.power_on()
    assert version(ecu) == h("62 F1 89") + b"2.0.0"


def test_staging_journal_does_not_resume_a_bank_download(delta_ecu) -> None:
    ecu = delta_ecu("single_bank")
    data = recipe("app-2.0.0").to_bytes()
    ecu.enter_programming()
    assert ecu.send(erase(0x0008_0000, len(data))) == h("71 01 FF 00 00")
    assert ecu.send(request_download(0x0008_0000, len(data)))[:1] == h("74")
    assert ecu.send(transfer(1, data[:SECTOR])) == h("76 01")
    assert ecu.record.journal.committed == SECTOR
    assert ecu.send(request_download(STAGE + SECTOR, len(data) - SECTOR)) == h("7F 34 70")


# -- refusals: before anything is overwritten ---------------------------------------------------

def send_header_block(ecu: SimEcu, data: bytes) -> bytes | None:
    """Stage ``data`` up to the block that completes the package header; that block's response."""
    return ecu.send(transfer(1, start_staging(ecu, data)[0]))


def resigned(delta: DeltaPackage, patch: bytes) -> DeltaPackage:
    """``patch`` under a header signed with the trusted key: a broken patch from a real supplier."""
    key = load_private_key(KEYS / "dev_ed25519.pem")
    unsigned = replace(delta.header, patch_length=len(patch), patch_sha256=hashlib.sha256(patch).digest())
    return DeltaPackage(replace(unsigned, signature=key.sign(unsigned.signed_bytes())), patch)


HEADER_REFUSALS: dict[str, Callable[[SimEcu], bytes]] = {
    "another base": lambda ecu: package(ecu, base="app-1.1.0", target="app-2.0.0").to_bytes(),
    "downgrade": lambda ecu: package(ecu, target="app-0.9.0-downgrade").to_bytes(),
    "truncated": lambda ecu: package(ecu).to_bytes()[:-100],
    "foreign key": lambda ecu: create_delta_package(
        recipe("app-1.0.0"), recipe("app-1.1.0"), private_key=load_private_key(KEYS / "foreign_ed25519.pem"),
        layout=PatchLayout.for_profile(ecu.profile)).to_bytes(),
    "header changed after signing": lambda ecu: replace(
        package(ecu), header=replace(package(ecu).header, base_version="1.0.1")).to_bytes(),
    "patch type of the other bootloader": lambda ecu: package(ecu, layout=PatchLayout(
        "sequential") if ecu.layout.bank_count == 1 else PatchLayout("in-place", memory_size=0x2_0000,
                                                                      segment_size=SECTOR)).to_bytes(),
}


@pytest.mark.parametrize("case", HEADER_REFUSALS)
def test_package_refused_as_soon_as_its_header_arrives(delta_ecu, kind: str, case: str) -> None:
    ecu = delta_ecu(kind)
    assert send_header_block(ecu, HEADER_REFUSALS[case](ecu)) == h("7F 36 31")
    assert ecu.send(transfer(2, b"\x00" * 16)) == h("7F 36 24")  # the download is over
    refused_before_anything_is_written(ecu, recipe("app-1.0.0"))


def test_corrupted_patch_is_refused_by_both_checks(delta_ecu, kind: str) -> None:
    ecu = delta_ecu(kind)
    data = bytearray(package(ecu).to_bytes())
    data[-200] ^= 0x10  # a bit flipped in transit: the header (and its signature) are intact
    stage(ecu, bytes(data))
    assert ecu.send(check_memory()) == h("71 01 02 02 02")
    stage(ecu, bytes(data))
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 02")
    refused_before_anything_is_written(ecu, recipe("app-1.0.0"))


@pytest.mark.parametrize("case", ["half the patch", "another target's patch"])
def test_signed_patch_that_does_not_make_the_target_is_refused(delta_ecu, kind: str, case: str) -> None:
    ecu = delta_ecu(kind)
    good = package(ecu)
    patch = good.patch[:len(good.patch) // 2] if case == "half the patch" else \
        package(ecu, target="app-1.0.0").patch  # a patch to a 1.0.0 of the same length: not 1.1.0
    stage(ecu, resigned(good, patch).to_bytes())
    assert ecu.send(check_memory()) == OK["memory"]  # whole as downloaded
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 06")
    refused_before_anything_is_written(ecu, recipe("app-1.0.0"))


@pytest.mark.parametrize("case", ["compression", "memory size"])
def test_patch_made_for_another_bootloader_is_refused(delta_ecu, case: str) -> None:
    ecu = delta_ecu("single_bank")
    layout = PatchLayout("in-place", "lzma", 0x2_0000, SECTOR) if case == "compression" else \
        PatchLayout("in-place", "heatshrink", 0x4_0000, SECTOR)
    stage(ecu, package(ecu, layout=layout).to_bytes())
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 01")
    refused_before_anything_is_written(ecu, recipe("app-1.0.0"))


def test_package_larger_than_the_staging_area(delta_ecu) -> None:
    ecu = delta_ecu("ab")
    ecu.enter_programming()
    assert ecu.send(request_download(STAGE, STAGE_SIZE + 1)) == h("7F 34 31")
