"""The EPS of the default bench, a virtual ECU with the HIS-style bootloader, driven over its CAN
bus with udsoncan as a tester would: the whole HIS sequence with a zlib download, and a power cut
in the calibration block after which the ECU waits in its bootloader, answers in the default
session, and takes the restarted block."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from udsoncan import DataFormatIdentifier, MemoryLocation
from udsoncan.exceptions import NegativeResponseException, TimeoutException

from bench.config.models import BenchConfig
from bench.dids import BootMode
from bench.rig import Bench, EcuHandle
from his_sim import FINGERPRINT, software

pytestmark = pytest.mark.ecu("eps")


@pytest.fixture
def eps(bench_config: BenchConfig, tmp_path: Path):
    with Bench(bench_config, workdir=tmp_path, ecus=["eps"], gateway=False) as rig:
        yield rig.ecu("eps")


def enter_programming(ecu: EcuHandle) -> None:
    client = ecu.uds
    client.change_session(0x03)
    assert client.start_routine(0x0203).service_data.routine_status_record == b"\x00"
    client.change_session(0x02)
    client.unlock_security_access(ecu.profile.security.level)
    client.write_data_by_identifier(0xF15A, FINGERPRINT)


def flash_block(ecu: EcuHandle, index: int, address: int, data: bytes, *, compress: bool) -> None:
    client = ecu.uds
    block = ecu.profile.memory.blocks[index]
    erase = client.start_routine(0xFF00, b"\x44" + block.address.to_bytes(4, "big") + block.size.to_bytes(4, "big"))
    assert erase.service_data.routine_status_record == b"\x00"
    payload = zlib.compress(data) if compress else data
    dfi = DataFormatIdentifier(compression=1 if compress else 0)
    answer = client.request_download(MemoryLocation(address, len(data), 32, 32), dfi)
    chunk = answer.service_data.max_length - 2
    for counter, start in enumerate(range(0, len(payload), chunk), start=1):
        client.transfer_data(counter & 0xFF, payload[start:start + chunk])
    client.request_transfer_exit()
    check = client.start_routine(0x0202, zlib.crc32(data).to_bytes(4, "big"))
    assert check.service_data.routine_status_record == b"\x00"


def finish(ecu: EcuHandle) -> None:
    assert ecu.uds.start_routine(0xFF01).service_data.routine_status_record == b"\x00"
    ecu.uds.ecu_reset(0x01)
    ecu.diagnostics.wait_responsive(5.0)


def test_his_update_over_can_with_a_compressed_download(eps: EcuHandle) -> None:
    assert eps.diagnostics.read_version() == "1.0.0"
    enter_programming(eps)
    for index, (address, data) in enumerate(software("2.0.0")):
        flash_block(eps, index, address, data, compress=True)
    finish(eps)
    assert eps.diagnostics.read_version() == "2.0.0"
    assert eps.uds.read_data_by_identifier_first(0xF15A) == FINGERPRINT


def test_power_cut_in_the_calibration_block_then_its_restart(eps: EcuHandle) -> None:
    (app_address, app), (cal_address, cal) = software("2.0.0")
    enter_programming(eps)
    flash_block(eps, 0, app_address, app, compress=False)
    first_page = eps.sim.layout.offsets[1] // eps.config.virtual.page_size
    eps.sim.probes.once("program_page_half", first_page + 3, eps.power.off)
    with pytest.raises((TimeoutException, NegativeResponseException)):
        flash_block(eps, 1, cal_address, cal, compress=False)
    assert not eps.sim.powered
    eps.power.on()
    eps.diagnostics.wait_responsive(5.0)                     # never bricked
    assert eps.sim.core().boot.running.mode == BootMode.BOOTLOADER
    assert eps.diagnostics.read_version() is None            # 7F 22 22: no complete application
    assert eps.diagnostics.read_boot_status().mode == BootMode.BOOTLOADER
    enter_programming(eps)                                   # restart the interrupted block only
    flash_block(eps, 1, cal_address, cal, compress=False)
    finish(eps)
    assert eps.diagnostics.read_version() == "2.0.0"
