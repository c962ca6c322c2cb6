"""What ``ota-bench sim`` says while a tester works with its ECU: sessions, security, downloads,
check results and refusals in words (from a passive monitor of the ECU's bus), and what the ECU
runs whenever that changes (a reset, a new image, a rollback)."""

from __future__ import annotations

from collections.abc import Callable

from bench.config import EcuProfile
from bench.dids import BootMode, BootState
from bench.flash.refusals import nrc_words
from bench.monitor import UdsEvent
from bench.routine_status import status_words
from bench.sim.boot import RunningSoftware

SESSIONS = {0x01: "default", 0x02: "programming", 0x03: "extended"}
STATES = {BootState.APPLICATION: "application", BootState.BOOTLOADER: "bootloader",
          BootState.TRIAL_BOOT: "trial boot, not yet confirmed", BootState.CONFIRMED: "confirmed"}


def describe_running(running: RunningSoftware) -> str:
    """``version 1.0.0 (bank A, application)`` or ``no valid application: ...``."""
    if running.mode == BootMode.BOOTLOADER and running.version is None:
        return f"no valid application: it waits in its bootloader (bank {'AB'[running.bank]}) for a download"
    return f"version {running.version} (bank {'AB'[running.bank]}, {STATES[running.state]})"


class SimActivity:
    """Turns the monitor's UDS events into lines for a person (``say`` prints one)."""

    def __init__(self, ecu: str, profile: EcuProfile, say: Callable[[str], None]) -> None:
        self.ecu, self.say = ecu, say
        self.routines = {profile.routines.erase: "erase", profile.routines.check_memory: "check memory",
                         profile.routines.check_dependencies: "check programming dependencies"}
        if profile.bootloader in ("single_bank", "ab"):
            self.routines[profile.routines.commit_bank] = "commit the update"
        if profile.bootloader == "ab":
            self.routines[profile.routines.switch_bank] = "switch back to the previous bank"
        self.download: str | None = None
        """What the last accepted RequestDownload asked for, until its transfer exit."""
        self.blocks = self.bytes = 0
        self.running = ""
        """What was last said the ECU runs."""

    def running_now(self, running: RunningSoftware | None) -> None:
        """Say what the ECU runs when it differs from what was said last."""
        if running is not None and describe_running(running) != self.running:
            self.running = describe_running(running)
            self.say(f"{self.ecu}: runs {self.running}")

    def event(self, event: UdsEvent) -> None:
        if event.ecu != self.ecu or event.pending:
            return
        if event.kind == "request":
            self._request(event)
        elif event.positive:
            self._answered(event)
        else:
            code = event.nrc if event.nrc is not None else 0
            self.say(f"{self.ecu}: refused {event.service}: NRC {code:#04x}, {nrc_words(code)}")

    def _request(self, event: UdsEvent) -> None:
        if event.service == "DiagnosticSessionControl" and event.suppress_response:  # no answer will say it
            self.say(f"{self.ecu}: session {SESSIONS.get(event.subfunction or 0, hex(event.subfunction or 0))}"
                     + (" (functional)" if event.functional else ""))
        elif event.service == "RequestDownload":
            self.download = _memory_range(event.payload)
        elif event.service == "TransferData":
            self.blocks += 1
            self.bytes += max(0, event.data_length - 2)

    def _answered(self, event: UdsEvent) -> None:
        payload = event.payload
        if event.service == "DiagnosticSessionControl":
            self.say(f"{self.ecu}: session {SESSIONS.get(event.subfunction or 0, hex(event.subfunction or 0))}")
        elif event.service == "SecurityAccess" and event.subfunction and event.subfunction % 2 == 0:
            self.say(f"{self.ecu}: security access granted (level {event.subfunction - 1:#04x})")
        elif event.service == "RequestDownload":
            self.blocks = self.bytes = 0
            self.say(f"{self.ecu}: download of {self.download or 'an unreadable range'} accepted")
        elif event.service == "RequestTransferExit":
            self.say(f"{self.ecu}: download ended: {self.blocks} TransferData blocks, {self.bytes:,} B received")
        elif event.service == "RoutineControl" and event.routine in self.routines:
            status = payload[4] if len(payload) > 4 else None
            result = "ok" if not status else f"status {status:#04x}, {status_words(status)}"
            self.say(f"{self.ecu}: {self.routines[event.routine]}: {result}")
        elif event.service == "ECUReset":
            self.say(f"{self.ecu}: reset")


def _memory_range(payload: bytes) -> str | None:
    """``0x10100 B at 0x80000`` from a RequestDownload request (34 DFI ALFID address size)."""
    if len(payload) < 3:
        return None
    address_length, size_length = payload[2] & 0x0F, payload[2] >> 4
    fields = payload[3:]
    if len(fields) != address_length + size_length:
        return None
    address = int.from_bytes(fields[:address_length], "big")
    size = int.from_bytes(fields[address_length:], "big")
    return f"{size:,} B at {address:#x}"
