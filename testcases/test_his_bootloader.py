"""The EPS, an ECU with a HIS/Vector-style flash bootloader, checked as a validation engineer
checks a supplier's ECU: its update flashed by its flash specification from an Intel HEX file,
a power cut in each logical block (the ECU never bricked, then only the interrupted block and
the ones after it sent again), and the bootloader's own rules driven request by request with
udsoncan: a block is checked against the CRC-32 the tester sends, downloaded only after its
erase, and an incomplete application never starts.
"""

from __future__ import annotations

import zlib

import pytest
from udsoncan import DataFormatIdentifier, MemoryLocation
from udsoncan.exceptions import NegativeResponseException

from bench.dids import BootMode
from bench.errors import FlashError
from bench.faults import uds
from bench.rig import EcuHandle
from bench.scenarios.oracles import nvm_consistent, recovers, version_is_old_or_new

pytestmark = pytest.mark.ecu("eps")
OLD, NEW, UPDATE = "1.0.0", "2.0.0", "eps-2.0.0"
FINGERPRINT = bytes.fromhex("4f 54 41 42 45 4e 26 12 03")  # tester "OTABEN", 2026-12-03 (BCD)

CUTS = {  # where the power goes, as (trigger, logical block it interrupts)
    "erase-application": (lambda p: uds.request("RoutineControl", routine=p.routines.erase), 0),
    "transfer-application": (lambda p: uds.transfer_data(block=2), 0),
    "check-application": (lambda p: uds.request("RoutineControl", routine=p.routines.check_memory), 0),
    "erase-calibration": (lambda p: uds.request("RoutineControl", routine=p.routines.erase, nth=2), 1),
    # the calibration block takes two TransferData requests: cut at its first, so that a cut a loaded
    # host delays (UDS triggers race the ECU) still lands inside the block, not after its check
    "transfer-calibration": (lambda p: uds.transfer_data(block=1, nth=2), 1),
    "check-calibration": (lambda p: uds.request("RoutineControl", routine=p.routines.check_memory, nth=2), 1),
}


@pytest.mark.parametrize("cut", CUTS)
def test_power_cut_in_a_logical_block_never_bricks_and_only_that_block_restarts(ecu, faults, firmware, cut):
    release = firmware(UPDATE)
    trigger, block = CUTS[cut]
    armed = faults.when(trigger(ecu.profile)).power_cut(ecu, off_for=0.2)
    with pytest.raises(FlashError) as interrupted:
        ecu.flasher.flash_software(release.files, expect_version=NEW)
    assert armed.wait(timeout=5.0), f"the power cut at {cut} never fired"
    # on a rig a UDS trigger races the ECU: a cut at a check may land after the ECU answered it, and
    # that block is then complete; a virtual ECU is cut before it acts (bench.faults.uds_events).
    # The flash restarts at the block it stopped in.
    stopped_in = interrupted.value.result.blocks_done
    on_a_rig = ecu.sim is None and cut.startswith("check")
    assert stopped_in == block or (on_a_rig and stopped_in == block + 1), stopped_in
    ecu.power.on()

    recovers(ecu, within=5.0)
    version_is_old_or_new(ecu, old=OLD, new=NEW)
    if ecu.sim is not None:
        nvm_consistent(ecu.sim)

    resumed = ecu.flasher.flash_software(release.files, resume=True, expect_version=NEW)
    assert resumed.version_after == NEW
    erased = [step.name for step in resumed.timeline.steps if step.name.startswith("RoutineControl erase")]
    assert erased == [f"RoutineControl erase memory block {index}" for index in range(stopped_in, 2)]


# -- the bootloader's rules, request by request ----------------------------------------------------

def enter_programming(ecu: EcuHandle, *, fingerprint: bool = True) -> None:
    client = ecu.uds
    client.change_session(0x03)
    assert client.start_routine(ecu.profile.routines.check_preconditions).service_data.routine_status_record == b"\0"
    client.change_session(0x02)
    client.unlock_security_access(ecu.profile.security.level)
    if fingerprint:
        client.write_data_by_identifier(ecu.profile.dids.fingerprint, FINGERPRINT)


def erase(ecu: EcuHandle, index: int) -> bytes:
    block = ecu.profile.memory.blocks[index]
    record = b"\x44" + block.address.to_bytes(4, "big") + block.size.to_bytes(4, "big")
    return ecu.uds.start_routine(ecu.profile.routines.erase, record).service_data.routine_status_record


def download(ecu: EcuHandle, address: int, data: bytes, *, compress: bool) -> None:
    client = ecu.uds
    payload = zlib.compress(data) if compress else data
    answer = client.request_download(MemoryLocation(address, len(data), 32, 32),
                                     DataFormatIdentifier(compression=1 if compress else 0))
    chunk = answer.service_data.max_length - 2
    for counter, start in enumerate(range(0, len(payload), chunk), start=1):
        client.transfer_data(counter & 0xFF, payload[start:start + chunk])
    client.request_transfer_exit()


def check(ecu: EcuHandle, crc: int) -> bytes:
    routine = ecu.profile.routines.check_memory
    return ecu.uds.start_routine(routine, crc.to_bytes(4, "big")).service_data.routine_status_record


def finish(ecu: EcuHandle) -> bytes:
    status = ecu.uds.start_routine(ecu.profile.routines.check_dependencies).service_data.routine_status_record
    ecu.uds.ecu_reset(0x01)
    recovers(ecu, within=5.0)
    return status


def blocks(firmware) -> list[tuple[int, bytes]]:  # noqa: ANN001 - the firmware fixture
    return [(block.address, block.data) for block in firmware(UPDATE).files[0].blocks]


def test_every_block_by_hand_with_compressed_downloads(ecu, firmware):
    assert ecu.diagnostics.read_version() == OLD
    enter_programming(ecu)
    for index, (address, data) in enumerate(blocks(firmware)):
        assert erase(ecu, index) == b"\0"
        download(ecu, address, data, compress=True)
        assert check(ecu, zlib.crc32(data)) == b"\0"
    assert finish(ecu) == b"\0"
    assert ecu.diagnostics.read_version() == NEW
    assert ecu.uds.read_data_by_identifier_first(ecu.profile.dids.fingerprint) == FINGERPRINT


def test_a_block_with_a_wrong_crc_stays_invalid_and_the_ecu_in_its_bootloader(ecu, firmware):
    enter_programming(ecu)
    address, data = blocks(firmware)[1]
    assert erase(ecu, 1) == b"\0"
    download(ecu, address, data, compress=False)
    assert check(ecu, zlib.crc32(data) ^ 0x00010000) == b"\x01"       # CRC incorrect
    assert finish(ecu) == b"\x01"                                    # dependencies not met
    assert ecu.diagnostics.read_version() is None                    # no complete application
    assert ecu.diagnostics.read_boot_status().mode == BootMode.BOOTLOADER
    assert ecu.diagnostics.describe().startswith("ECU state: version none, bootloader") \
        and ecu.diagnostics.describe().endswith("no journal")            # what a failure message says
    result = ecu.flasher.flash_software(firmware(UPDATE).files, expect_version=NEW)   # still reprogrammable
    assert result.version_after == NEW


def test_erase_needs_a_fingerprint_and_a_download_needs_its_erase(ecu, firmware):
    enter_programming(ecu, fingerprint=False)
    with pytest.raises(NegativeResponseException) as refused:
        erase(ecu, 0)
    assert refused.value.response.code == 0x22                       # conditionsNotCorrect
    ecu.uds.write_data_by_identifier(ecu.profile.dids.fingerprint, FINGERPRINT)
    address, data = blocks(firmware)[1]
    assert erase(ecu, 0) == b"\0"                                    # block 0 erased, block 1 not
    with pytest.raises(NegativeResponseException) as refused:
        download(ecu, address, data, compress=False)
    assert refused.value.response.code == 0x70                       # uploadDownloadNotAccepted
