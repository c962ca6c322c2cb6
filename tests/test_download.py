"""Reprogramming on the virtual ECU's bootloader: erase, RequestDownload, TransferData,
RequestTransferExit, the download journal and resume, CheckMemory and CheckProgrammingDependencies.
"""

from __future__ import annotations

import pytest

from bench.dids import DownloadJournal
from bench.image import HEADER_SIZE
from bench.sim.nvm import PowerLost
from sim_factory import (REGION, SECTOR, SimEcu, blocks, check_dependencies, check_memory, download, erase, h,
                         install, recipe, request_download, signed_image, transfer)

DATA_PER_BLOCK = 0x1000  # default max_block_length 0x1002 minus SID and counter


def start_download(ecu: SimEcu, data: bytes) -> None:
    ecu.enter_programming()
    assert ecu.send(erase(REGION, len(data))) == h("71 01 FF 00 00")
    assert ecu.send(request_download(REGION, len(data))) == h("74 20 10 02")


def test_full_download_sequence(single_bank: SimEcu) -> None:
    image = recipe("app-2.0.0")
    data = image.to_bytes()
    ecu = single_bank
    ecu.enter_programming()
    assert ecu.send(erase(REGION, len(data))) == h("71 01 FF 00 00")
    assert ecu.flash.is_erased(0, len(data))
    assert ecu.send(request_download(REGION, len(data))) == h("74 20 10 02")  # 0x20: 2-byte max block length
    for counter, chunk in enumerate(blocks(data, DATA_PER_BLOCK), start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter])
    assert ecu.send("37") == h("77")
    assert ecu.send(check_memory()) == h("71 01 02 02 00")
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 00")
    assert ecu.bank_bytes(0, len(data)) == data
    bank = ecu.record.banks[0]
    assert (bank.valid, bank.version, bank.security_version) == (True, "2.0.0", 2)
    assert ecu.record.journal.empty
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"2.0.0"


def test_max_block_length_comes_from_the_profile(make_ecu) -> None:
    ecu = make_ecu("single_bank", max_block_length=0x0402)
    ecu.enter_programming()
    ecu.send(erase(REGION, 0x1000))
    assert ecu.send(request_download(REGION, 0x1000)) == h("74 20 04 02")


# -- RequestDownload -------------------------------------------------------------------------

def test_request_download_needs_unlock(single_bank: SimEcu) -> None:
    single_bank.enter_programming(unlock=False)
    assert single_bank.send(request_download(REGION, 0x1000)) == h("7F 34 33")


@pytest.mark.parametrize(("address", "size"), [
    (REGION - 0x1000, 0x1000),          # starts before the region
    (REGION, 0x2_0000 + 1),             # ends after it
    (REGION + 0x1_F000, 0x2000),
    (REGION, 0),                        # nothing to download
])
def test_request_download_outside_the_region(single_bank: SimEcu, address: int, size: int) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_download(address, size)) == h("7F 34 31")


def test_request_download_with_compression(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    assert single_bank.send(h("34 11") + request_download(REGION, 0x1000)[2:]) == h("7F 34 31")


@pytest.mark.parametrize("request_", ["34", "34 00", "34 00 44 00 08 00 00"])
def test_request_download_malformed(single_bank: SimEcu, request_: str) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_) == h("7F 34 13")


def test_request_download_into_memory_not_erased(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    assert single_bank.send(request_download(REGION, 0x1000)) == h("7F 34 70")  # factory image there


# -- TransferData --------------------------------------------------------------------------------

def test_transfer_data_before_request_download(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    assert single_bank.send(transfer(1, b"\x00" * 16)) == h("7F 36 24")


def test_transfer_data_with_wrong_counter(single_bank: SimEcu) -> None:
    data = recipe("app-2.0.0").to_bytes()
    start_download(single_bank, data)
    assert single_bank.send(transfer(2, data[:DATA_PER_BLOCK])) == h("7F 36 73")
    assert single_bank.send(transfer(0, data[:DATA_PER_BLOCK])) == h("7F 36 73")
    assert single_bank.flash.is_erased(0, len(data))


def test_repeated_block_is_acknowledged_not_written_again(single_bank: SimEcu) -> None:
    ecu = single_bank
    data = recipe("app-2.0.0").to_bytes()
    start_download(ecu, data)
    parts = blocks(data, DATA_PER_BLOCK)
    assert ecu.send(transfer(1, parts[0])) == h("76 01")
    assert ecu.send(transfer(2, parts[1])) == h("76 02")
    ecu.probe_hits.clear()
    assert ecu.send(transfer(2, parts[1])) == h("76 02")       # the tester lost the response
    assert ecu.probe_hits["program_page"] == 0
    assert ecu.send(transfer(3, parts[2])) == h("76 03")       # and goes on where it was
    assert ecu.probe_hits["program_page"] == DATA_PER_BLOCK // ecu.page_size
    assert ecu.bank_bytes(0, 3 * DATA_PER_BLOCK) == data[:3 * DATA_PER_BLOCK]


def test_block_counter_wraps_from_ff_to_00(make_ecu) -> None:
    ecu = make_ecu("single_bank", max_block_length=2 + 256)
    image = signed_image("2.0.0", size=0x1_0000)               # 257 blocks of 256 bytes
    data = image.to_bytes()
    assert len(blocks(data, 256)) > 0x100
    ecu.enter_programming()
    ecu.send(erase(REGION, len(data)))
    ecu.send(request_download(REGION, len(data)))
    for index, chunk in enumerate(blocks(data, 256), start=1):
        counter = index & 0xFF                                 # ..., 0xFE, 0xFF, 0x00, 0x01
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter]), f"block {index}"
    assert ecu.send("37") == h("77")
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 00")


def test_blocks_that_are_not_a_whole_number_of_pages(make_ecu) -> None:
    ecu = make_ecu("single_bank", max_block_length=2 + 100)    # 100-byte blocks, 256-byte pages
    data = signed_image("2.0.0", size=2048).to_bytes()
    ecu.enter_programming()
    download(ecu, data, block=100)
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 00")


@pytest.mark.parametrize(("size", "nrc"), [(0, "13"), (DATA_PER_BLOCK + 1, "31")])  # 0x31: > maxNumberOfBlockLength
def test_transfer_data_block_length(single_bank: SimEcu, size: int, nrc: str) -> None:
    data = recipe("app-2.0.0").to_bytes()
    start_download(single_bank, data)
    assert single_bank.send(transfer(1, data[:size])) == h(f"7F 36 {nrc}")


def test_more_data_than_announced(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    single_bank.send(erase(REGION, 0x1000))
    single_bank.send(request_download(REGION, 1000))
    assert single_bank.send(transfer(1, b"\x00" * 1001)) == h("7F 36 71")
    assert single_bank.flash.is_erased(0, 0x1000)


# -- RequestTransferExit ---------------------------------------------------------------------

def test_transfer_exit_before_all_data(single_bank: SimEcu) -> None:
    data = recipe("app-2.0.0").to_bytes()
    start_download(single_bank, data)
    single_bank.send(transfer(1, data[:DATA_PER_BLOCK]))
    assert single_bank.send("37") == h("7F 37 24")


def test_transfer_exit_without_download(single_bank: SimEcu) -> None:
    single_bank.enter_programming()
    assert single_bank.send("37") == h("7F 37 24")


# -- download journal and resume ---------------------------------------------------------------

def read_journal(ecu: SimEcu) -> DownloadJournal:
    response = ecu.send("22 FD 01")
    assert response[:3] == h("62 FD 01"), response
    return DownloadJournal.parse(response[3:])


@pytest.fixture
def half_downloaded(make_ecu) -> tuple[SimEcu, bytes]:
    """Single-bank ECU downloading app-2.0.0 in 1 KiB blocks: five acknowledged, power lost
    halfway through the first page of the sixth, then powered on again."""
    ecu = make_ecu("single_bank", max_block_length=2 + 1024)
    data = recipe("app-2.0.0").to_bytes()
    ecu.enter_programming()
    ecu.send(erase(REGION, len(data)))
    ecu.send(request_download(REGION, len(data)))
    parts = blocks(data, 1024)
    for counter, chunk in enumerate(parts[:5], start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter])
    torn_page = 5 * 1024 // ecu.page_size
    ecu.on_probe = lambda point, page: ecu.cut_power() if (point, page) == ("program_page_half", torn_page) else None
    with pytest.raises(PowerLost):
        ecu.send(transfer(6, parts[5]))
    ecu.on_probe = None
    ecu.power_on()
    assert ecu.bank_bytes(0, 5 * 1024 + 128) == data[:5 * 1024 + 128]     # the sixth block's first
    assert ecu.flash.is_erased(5 * 1024 + 128, len(data) - 5 * 1024 - 128)  # page is torn
    return ecu, data


def test_journal_commits_whole_sectors(half_downloaded: tuple[SimEcu, bytes]) -> None:
    ecu, data = half_downloaded
    journal = read_journal(ecu)
    assert journal.committed == SECTOR                          # 5 KiB sent: one whole sector
    assert journal.total_length == len(data)
    assert journal.header_digest == recipe("app-2.0.0").header_digest


def test_journal_before_the_header_is_complete(make_ecu) -> None:
    ecu = make_ecu("single_bank", max_block_length=2 + 128, page_size=128)
    data = recipe("app-2.0.0").to_bytes()
    ecu.enter_programming()
    ecu.send(erase(REGION, len(data)))
    ecu.send(request_download(REGION, len(data)))
    ecu.send(transfer(1, data[:128]))
    assert read_journal(ecu) == DownloadJournal(bytes(32), len(data), 0)  # 128 of 256 header bytes
    assert ecu.send(transfer(2, data[128:HEADER_SIZE])) == h("76 02")
    assert read_journal(ecu).header_digest == recipe("app-2.0.0").header_digest


def test_resume_at_the_committed_offset(half_downloaded: tuple[SimEcu, bytes]) -> None:
    ecu, data = half_downloaded
    ecu.enter_programming()
    assert ecu.send(request_download(REGION + SECTOR, len(data) - SECTOR)) == h("74 20 04 02")
    for counter, chunk in enumerate(blocks(data[SECTOR:], 1024), start=1):
        assert ecu.send(transfer(counter, chunk)) == bytes([0x76, counter & 0xFF])
    assert ecu.send("37") == h("77")
    assert ecu.send(check_dependencies()) == h("71 01 FF 01 00")
    assert ecu.bank_bytes(0, len(data)) == data


@pytest.mark.parametrize(("offset", "shorter_by"), [
    (SECTOR + 1024, SECTOR + 1024),     # past the committed sector (the fifth block is not committed)
    (2 * SECTOR, 2 * SECTOR),
    (SECTOR, SECTOR + 16),              # right offset, wrong length
])
def test_resume_elsewhere_is_refused(half_downloaded: tuple[SimEcu, bytes], offset: int, shorter_by: int) -> None:
    ecu, data = half_downloaded
    ecu.enter_programming()
    assert ecu.send(request_download(REGION + offset, len(data) - shorter_by)) == h("7F 34 70")


def test_resume_is_refused_when_the_profile_has_no_resume(make_ecu) -> None:
    ecu = make_ecu("single_bank", resume=False)
    data = recipe("app-2.0.0").to_bytes()
    start_download(ecu, data)
    ecu.send(transfer(1, data[:DATA_PER_BLOCK]))
    ecu.send(transfer(2, data[DATA_PER_BLOCK:2 * DATA_PER_BLOCK]))
    ecu.power_on()
    ecu.enter_programming()
    assert ecu.send(request_download(REGION + DATA_PER_BLOCK, len(data) - DATA_PER_BLOCK)) == h("7F 34 70")


# -- CheckMemory / CheckProgrammingDependencies ------------------------------------------------

def tampered(data: bytes) -> bytes:
    at = HEADER_SIZE + 1000                                     # a payload byte, past the descriptor
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# CheckMemory: is the image whole? A download it rejects is forgotten (no resume onto bad data),
# so CheckProgrammingDependencies then has nothing to check: 0x24.
REFUSED = [
    pytest.param(lambda: recipe("app-2.0.0-foreign").to_bytes(), None, h("71 01 FF 01 03"), id="foreign-key"),
    pytest.param(lambda: tampered(recipe("app-2.0.0").to_bytes()), 0x02, h("7F 31 24"), id="tampered-payload"),
    pytest.param(lambda: recipe("app-0.9.0-downgrade").to_bytes(), 0x00, h("71 01 FF 01 04"), id="downgrade"),
]


@pytest.mark.parametrize("bootloader", ["single_bank", "ab"])
@pytest.mark.parametrize(("make_data", "memory_status", "dependencies_answer"), REFUSED)
def test_refused_images_never_become_valid(make_ecu, bootloader: str, make_data, memory_status: int | None,
                                           dependencies_answer: bytes) -> None:
    ecu = make_ecu(bootloader)
    target = 0 if bootloader == "single_bank" else 1
    ecu.enter_programming()
    download(ecu, make_data())
    if memory_status is not None:
        assert ecu.send(check_memory()) == h("71 01 02 02") + bytes([memory_status])
    assert ecu.send(check_dependencies()) == dependencies_answer
    record = ecu.record
    assert record.journal.empty  # the next attempt downloads anew
    assert not record.banks[target].valid
    assert record.pending_bank is None
    assert record.anti_rollback == 1
    ecu.power_on()
    status = ecu.send("22 FD 02")
    if bootloader == "single_bank":
        assert status == h("62 FD 02 01 00 01 00")              # bootloader: nothing to start
        assert ecu.send("22 F1 89") == h("7F 22 22")
    else:
        assert status == h("62 FD 02 00 00 03 00")              # still bank A, confirmed
        assert ecu.send("22 F1 89") == h("62 F1 89") + b"1.0.0"


def test_check_dependencies_during_a_download(single_bank: SimEcu) -> None:
    data = recipe("app-2.0.0").to_bytes()
    start_download(single_bank, data)
    single_bank.send(transfer(1, data[:DATA_PER_BLOCK]))
    assert single_bank.send(check_dependencies()) == h("7F 31 24")


def test_routines_need_programming_session_and_unlock(single_bank: SimEcu) -> None:
    single_bank.send("10 03")
    assert single_bank.send(check_dependencies()) == h("7F 31 31")
    single_bank.send("10 02")
    assert single_bank.send(check_dependencies()) == h("7F 31 33")
    assert single_bank.send(erase(REGION, 0x1000)) == h("7F 31 33")
    assert single_bank.send("31 01 12 34") == h("7F 31 31")        # unknown routine
    assert single_bank.send("31 02 FF 01") == h("7F 31 12")        # stopRoutine not supported


def test_a_second_install_after_a_refused_one(single_bank: SimEcu) -> None:
    """A refused image leaves the ECU reprogrammable: the good one goes in right after."""
    ecu = single_bank
    assert install(ecu, recipe("app-2.0.0-foreign")) == h("71 01 FF 01 03")
    ecu.power_on()
    assert install(ecu, recipe("app-2.0.0")) == h("71 01 FF 01 00")
    ecu.power_on()
    assert ecu.send("22 F1 89") == h("62 F1 89") + b"2.0.0"
