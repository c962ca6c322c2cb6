"""What the virtual ECU's bootloader starts at power-on: the application, the bootloader (never
bricked), a new A/B bank on trial, or the previous bank again after failed trials (rollback)."""

from __future__ import annotations

import pytest

from bench.sim.nvm import PowerLost
from sim_factory import REGION, SimEcu, check_dependencies, erase, h, install, recipe, signed_image

# ReadDataByIdentifier boot state (0xFD02): mode, bank, state, boot attempts
APPLICATION_A = h("62 FD 02 00 00 00 00")      # single bank: application running
BOOTLOADER_A = h("62 FD 02 01 00 01 00")
CONFIRMED_A = h("62 FD 02 00 00 03 00")       # A/B: bank A running, confirmed
CONFIRMED_B = h("62 FD 02 00 01 03 00")


def version(ecu: SimEcu) -> bytes | None:
    return ecu.send("22 F1 89")


def cut_power_at(ecu: SimEcu, point: str, index: int | None = None) -> None:
    def probe(reached: str, at: int) -> None:
        if reached == point and index in (None, at):
            ecu.cut_power()
    ecu.on_probe = probe


# -- single bank ---------------------------------------------------------------------------------

def test_valid_application_starts(single_bank: SimEcu) -> None:
    assert single_bank.send("22 FD 02") == APPLICATION_A
    assert version(single_bank) == h("62 F1 89") + b"1.0.0"


def test_erased_application_leaves_the_bootloader_reprogrammable(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.enter_programming()
    assert ecu.send(erase(REGION, 0x1000)) == h("71 01 FF 00 00")
    ecu.power_on()
    assert ecu.send("22 FD 02") == BOOTLOADER_A
    assert version(ecu) == h("7F 22 22")
    assert ecu.send("10 02")[:2] == h("50 02")          # straight from default: nothing to jump from
    ecu.power_on()
    assert install(ecu, recipe("app-2.0.0")) == h("71 01 FF 01 00")
    ecu.power_on()
    assert ecu.send("22 FD 02") == APPLICATION_A
    assert version(ecu) == h("62 F1 89") + b"2.0.0"


@pytest.mark.parametrize(("point", "sector"), [
    ("erase_sector", 0),          # the image is still whole, but the erase had begun: not started
    ("erase_sector_half", 3),     # three sectors erased, the fourth torn
])
def test_power_cut_during_erase_never_bricks(single_bank: SimEcu, point: str, sector: int) -> None:
    ecu = single_bank
    ecu.enter_programming()
    cut_power_at(ecu, point, sector)
    with pytest.raises(PowerLost):
        ecu.send(erase(REGION, 0x1_0000))
    ecu.on_probe = None
    ecu.power_on()
    assert ecu.send("22 FD 02") == BOOTLOADER_A
    assert install(ecu, recipe("app-2.0.0")) == h("71 01 FF 01 00")


def test_application_corrupted_in_flash_is_not_started(single_bank: SimEcu) -> None:
    ecu = single_bank
    ecu.close()
    with open(ecu.flash_path, "r+b") as flash:       # a bit flips in the stored payload
        flash.seek(0x3000)
        byte = flash.read(1)
        flash.seek(0x3000)
        flash.write(bytes([byte[0] ^ 0x10]))
    ecu.power_on()
    assert ecu.send("22 FD 02") == BOOTLOADER_A
    assert not ecu.record.banks[0].valid


@pytest.mark.parametrize("trial_boots", [1, 3])
def test_single_bank_application_failing_its_self_test_stays_in_the_bootloader(make_ecu, trial_boots: int) -> None:
    ecu = make_ecu("single_bank", trial_boots=trial_boots)
    assert install(ecu, recipe("app-2.0.0-selftest-fail")) == h("71 01 FF 01 00")
    ecu.power_on()
    assert ecu.send("22 FD 02") == BOOTLOADER_A[:-1] + bytes([trial_boots])
    assert version(ecu) == h("62 F1 89") + b"2.0.0-bad"    # installed, not running
    assert install(ecu, recipe("app-2.0.0")) == h("71 01 FF 01 00")
    ecu.power_on()
    assert ecu.send("22 FD 02") == APPLICATION_A


# -- A/B ---------------------------------------------------------------------------------------

def test_ab_new_bank_runs_confirmed_after_reset(ab: SimEcu) -> None:
    assert ab.send("22 FD 02") == CONFIRMED_A
    assert install(ab, recipe("app-2.0.0")) == h("71 01 FF 01 00")
    assert ab.bank_bytes(1, 16) == recipe("app-2.0.0").to_bytes()[:16]
    assert ab.bank_bytes(0, 16) == recipe("app-1.0.0").to_bytes()[:16]    # bank A untouched
    assert (ab.record.pending_bank, ab.record.anti_rollback) == (1, 1)     # not started before a reset
    ab.power_on()
    assert ab.send("22 FD 02") == CONFIRMED_B
    assert version(ab) == h("62 F1 89") + b"2.0.0"
    record = ab.record
    assert (record.active_bank, record.pending_bank, record.anti_rollback) == (1, None, 1)  # until committed


def test_ab_anti_rollback_refuses_the_old_version_after_confirmation(ab: SimEcu) -> None:
    install(ab, recipe("app-2.0.0"))
    ab.power_on()
    assert install(ab, recipe("app-1.0.0")) == h("71 01 FF 01 04")   # into bank A, security version 1 < 2
    ab.power_on()
    assert ab.send("22 FD 02") == CONFIRMED_B


@pytest.mark.parametrize("trial_boots", [1, 3])
def test_ab_bank_failing_its_self_test_rolls_back(make_ecu, trial_boots: int) -> None:
    ecu = make_ecu("ab", trial_boots=trial_boots)
    assert install(ecu, recipe("app-2.0.0-selftest-fail")) == h("71 01 FF 01 00")
    ecu.eeprom_writes.clear()
    ecu.power_on()
    assert ecu.send("22 FD 02") == CONFIRMED_A
    assert version(ecu) == h("62 F1 89") + b"1.0.0"
    record = ecu.record
    assert (record.active_bank, record.pending_bank, record.anti_rollback) == (0, None, 1)
    assert not record.banks[1].valid
    trials = [w["boot_attempts"] for w in ecu.eeprom_writes if w["pending_bank"] == 1]
    assert trials[:trial_boots] == list(range(1, trial_boots + 1))  # each start counted before it ran
    assert all(w["active_bank"] == 0 for w in ecu.eeprom_writes)    # never confirmed


def test_ab_self_test_failure_from_the_descriptor(ab: SimEcu) -> None:
    assert install(ab, signed_image("2.1.0", self_test_passes=False)) == h("71 01 FF 01 00")
    ab.power_on()
    assert ab.send("22 FD 02") == CONFIRMED_A


def test_ab_accepts_a_good_image_after_a_rollback(ab: SimEcu) -> None:
    install(ab, recipe("app-2.0.0-selftest-fail"))
    ab.power_on()
    assert install(ab, recipe("app-2.0.0")) == h("71 01 FF 01 00")
    ab.power_on()
    assert ab.send("22 FD 02") == CONFIRMED_B


def test_ab_power_lost_before_confirmation_counts_as_a_start(ab: SimEcu) -> None:
    install(ab, recipe("app-2.0.0"))
    cut_power_at(ab, "confirm")
    with pytest.raises(PowerLost):
        ab.power_on()
    record = ab.record
    assert (record.active_bank, record.pending_bank, record.boot_attempts) == (0, 1, 1)
    ab.on_probe = None
    ab.power_on()                                     # the next start confirms the good image
    assert ab.send("22 FD 02") == CONFIRMED_B
    assert ab.record.boot_attempts == 0


def test_ab_power_lost_at_every_trial_rolls_back(ab: SimEcu) -> None:
    install(ab, recipe("app-2.0.0"))
    cut_power_at(ab, "confirm")
    for attempt in range(1, ab.profile.trial_boots + 1):
        with pytest.raises(PowerLost):
            ab.power_on()
        assert ab.record.boot_attempts == attempt
    ab.on_probe = None
    ab.power_on()
    assert ab.send("22 FD 02") == CONFIRMED_A         # a good image, but it never confirmed in time
    assert not ab.record.banks[1].valid


def test_single_bank_failing_application_survives_many_power_cycles(make_ecu) -> None:
    ecu = make_ecu("single_bank", trial_boots=1,
                   factory_image=signed_image("1.0.0", security_version=1, self_test_passes=False))
    for _ in range(260):
        ecu.power_on()
    assert ecu.send("22 FD 02")[:6] == BOOTLOADER_A[:6]


def test_ab_rolled_back_bank_cannot_be_armed_again_without_a_download(ab: SimEcu) -> None:
    install(ab, recipe("app-2.0.0-selftest-fail"))
    ab.power_on()                                     # trial fails, rolls back to A
    assert ab.send("22 FD 02") == CONFIRMED_A
    ab.enter_programming()
    assert ab.send(check_dependencies()) == h("7F 31 24")
    assert ab.record.pending_bank is None
