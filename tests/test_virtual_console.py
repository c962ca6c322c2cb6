"""The virtual ECU's debug UART, read through the real SerialConsole on its pty."""

from __future__ import annotations

import pytest

from bench.errors import FlashRolledBack
from bench.faults import uds

pytestmark = pytest.mark.ecu("bms")


def test_boot_log_shows_power_on_and_the_running_application(console):
    console.expect(r"power on \(13\.5 V\)", timeout=5.0)
    console.expect(r"starting application 1\.0\.0 from bank A", timeout=5.0)


def test_rollback_is_visible_on_the_console(ecu, console, firmware):
    console.expect("starting application 1.0.0", timeout=5.0)
    with pytest.raises(FlashRolledBack):
        ecu.flasher.flash(firmware("app-2.0.0-selftest-fail"))
    console.expect(r"trial start 1/3 of 2\.0\.0-bad from bank B", timeout=5.0)
    console.expect(r"not confirmed after 3 starts: rollback", timeout=5.0)
    console.expect(r"starting application 1\.0\.0 from bank A", timeout=5.0)
    assert console.log_path.read_text().count("self test failed") == 3


def test_console_disconnect_fault_loses_what_the_ecu_printed_meanwhile(ecu, console, faults, power):
    console.expect("starting application 1.0.0", timeout=5.0)
    cut = faults.when(uds.request("ECUReset")).disconnect_console(ecu)
    ecu.uds.ecu_reset(1)
    assert cut.wait(5.0)
    ecu.diagnostics.wait_responsive(5.0)
    console.reconnect()
    power.off()
    power.on()
    console.expect("power on", timeout=5.0)
    log = console.log_path.read_text()
    assert "[bench] console disconnected" in log and "[bench] console reconnected" in log
