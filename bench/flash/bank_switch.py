"""An update undone (A/B) or made final without a download: the routines ``switch_bank`` and
``commit_bank`` of the ECU's profile (``bench.sim.boot`` documents the virtual bootloader's).

Switching back: extended session, security access, RoutineControl switch_bank, a hard reset,
and the version read back once the ECU runs again; it must be the one the bank held before. The
timeline is a ``FlashResult`` with ``package="bank_switch"`` (nothing downloaded), so reports
and oracles see it beside the flashes. Committing: extended session, security access,
RoutineControl commit_bank, back to the default session.
"""

from __future__ import annotations

from udsoncan import services

from bench.config.models import EcuProfile
from bench.errors import FlashError
from bench.flash.diagnostics import EcuDiagnostics, version_text
from bench.flash.result import FlashResult
from bench.flash.security_delay import security_access
from bench.flash.timeline import Timeline
from bench.transport.uds_client import TesterLink

ROUTINE_OK = 0x00


class BankSwitch:
    def __init__(self, name: str, link: TesterLink, profile: EcuProfile, diagnostics: EcuDiagnostics,
                 boot_timeout: float) -> None:
        self.name, self.link, self.profile, self.diagnostics = name, link, profile, diagnostics
        self.boot_timeout = boot_timeout

    def switch_back(self, result: FlashResult) -> None:
        """Into ``result`` (its ``version``: the one the previous bank holds); FlashError when the
        ECU runs another version afterwards; udsoncan's exceptions when it refuses or is silent."""
        t, c = result.timeline, self.link.client
        with t.step("ReadDataByIdentifier version before") as step:
            result.version_before = self.diagnostics.read_version()
            step.detail = version_text(result.version_before)
        self._unlock_extended(t)
        self._routine(t, "RoutineControl switch bank", self.profile.routines.switch_bank)
        with t.step("ECUReset hard"), c.budget(self.profile.timing.step_budget.get("reset")):
            c.ecu_reset(services.ECUReset.ResetType.hardReset)
        with t.step("wait for ECU after reset") as step:
            step.detail = f"answered after {self.diagnostics.wait_responsive(self.boot_timeout) * 1000:.0f} ms"
        with t.step("ReadDataByIdentifier version") as step:
            result.version_after = self.diagnostics.read_version()
            step.detail = version_text(result.version_after)
        if result.version_after != result.version:
            raise FlashError(f"{self.name}: runs {version_text(result.version_after)} after switching back to its "
                             f"previous bank, not version {result.version}")

    def commit(self, timeline: Timeline) -> None:
        self._unlock_extended(timeline)
        self._routine(timeline, "RoutineControl commit bank", self.profile.routines.commit_bank)
        with timeline.step("DiagnosticSessionControl default"):
            self.link.client.change_session(services.DiagnosticSessionControl.Session.defaultSession)

    def _unlock_extended(self, t: Timeline) -> None:
        c, security = self.link.client, self.profile.security
        with t.step("DiagnosticSessionControl extended"):
            c.change_session(services.DiagnosticSessionControl.Session.extendedDiagnosticSession)
        with t.step(f"SecurityAccess level {security.level:#04x}") as step:
            step.detail = security_access(c, security.level, up_to=security.lockout_delay)

    def _routine(self, t: Timeline, name: str, routine_id: int) -> None:
        with t.step(name, detail=f"RID {routine_id:#06x}") as step:
            status = self.link.client.start_routine(routine_id).service_data.routine_status_record
            if status and status[0] != ROUTINE_OK:
                step.detail += f", status {status[0]:#04x}"
                raise FlashError(f"{self.name}: {name} reported status {status[0]:#04x}")
