"""Reprogram one ECU the ISO 14229 way, driven by its profile.

The version it runs; pre-programming on the network (``bench.flash.network``: extended session,
DTC setting off, communication control, functionally addressed); programming session, security
access, fingerprint, erase, RequestDownload, TransferData in blocks sized from the ECU's answer,
RequestTransferExit, CheckMemory, CheckProgrammingDependencies, reset, the version read back
once the ECU runs again; post-programming (communication and DTC setting on, DTCs cleared where
the profile says). With ``resume=True`` the download journal decides where to continue.
TesterPresent keeps the sessions of the network open throughout.

Waiting is ISO 14229-2's: P2/P2* as the ECU announces them (the profile's are the floor), every
0x78 restarting P2*, and no overall limit but a step's ``timing.step_budget`` where the profile
sets one (``bench.transport.uds_client.SessionTimedClient``).

Only an ECU that runs the flashed version afterwards is a success: one that runs the version it
ran before has rolled back (``FlashRolledBack``), any other is a ``FlashError``.

Given a delta package (``delta=``), the flasher first reads the installed image's digest: when
the ECU takes delta packages (``profile.delta``) and runs exactly the package's base, it
downloads the package to the ECU's staging area instead of the image (same sequence; the ECU
patches at the reset); otherwise it flashes the full image. ``FlashResult.package`` and the
timeline's first step say which and why.

An A/B ECU's update is undone without a download by ``switch_back``; an update is made final
(the anti-rollback counter moves) by ``commit_update`` (``bench.flash.bank_switch``); ``flash``
alone never commits.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from udsoncan import MemoryLocation, services
from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.config.models import BudgetedStep, EcuProfile
from bench.errors import ConfigError, FlashError, FlashRolledBack, UsageError
from bench.flash.bank_switch import BankSwitch
from bench.flash.block_plan import memory_map, plan_blocks, plan_digest
from bench.flash.block_resume import BlockResume, identity_dids
from bench.flash.diagnostics import EcuDiagnostics, version_text
from bench.flash.keepalive import TesterPresentKeepalive
from bench.flash.network import prepare_network, restore_network
from bench.flash.progress_record import ProgressRecord
from bench.flash.result import FlashResult, Progress
from bench.flash.security_delay import security_access
from bench.flash.spec_flasher import SpecFlash, SpecSettings
from bench.flash.refusals import explain, routine_refusal
from bench.flash.timeline import Timeline
from bench.flash.transfer import send_blocks
from bench.image import DeltaPackage, FirmwareImage
from bench.image.software import SoftwareFile
from bench.transport.uds_client import TesterLink

DEFAULT_FINGERPRINT = b"OTA-HIL-BENCH"
ROUTINE_OK = 0x00


@dataclass(frozen=True)
class _Download:
    """What goes to the ECU and where: an image into its bank, or a package into its staging area."""

    data: bytes
    header_digest: bytes
    address: int


class Flasher:
    def __init__(self, name: str, link: TesterLink, profile: EcuProfile, *, block_retries: int = 3,
                 boot_timeout: float = 5.0, diagnostics: EcuDiagnostics | None = None,
                 record: ProgressRecord | None = None) -> None:
        self.name = name
        self.link = link
        self.profile = profile
        self.diagnostics = diagnostics or EcuDiagnostics(link.client, profile)
        """The ECU's diagnostics; give the one the test uses too, so the ECU has one record of reads."""
        self.block_retries = block_retries
        self.boot_timeout = boot_timeout
        self.results: list[FlashResult] = []
        """Every flash attempt of this flasher, failed ones included (evidence for reports)."""
        self.record = record
        """The tester's progress record of flashes of software files (``bench.flash.progress_record``):
        kept up to date by every such flash, read by a resumed one this flasher has no attempt of."""

    @property
    def client(self):  # noqa: ANN201 - udsoncan Client
        return self.link.client

    def flash(self, image: FirmwareImage, *, resume: bool = False, fingerprint: bytes = DEFAULT_FINGERPRINT,
              progress: Progress | None = None, delta: DeltaPackage | None = None) -> FlashResult:
        """Program ``image`` (or ``delta``, a package that makes it, when the ECU runs its base);
        FlashError (with ``.result``) if the ECU does not complete a step."""
        if delta is not None and delta.header.target_digest != image.digest:
            raise ConfigError(f"{self.name}: the delta package makes {delta.header.version} "
                              f"({delta.header.target_digest.hex()[:12]}), not the image being flashed "
                              f"{image.header.version} ({image.digest.hex()[:12]})")
        spec = self.profile.flash_spec
        if not spec.takes_images:
            raise UsageError(f"{self.name}: its flash specification {spec.name!r} flashes software files, not the "
                             "bench's images: use flash_software([load_software(path), ...])")
        result = FlashResult(self.name, image.header.version, Timeline())
        self.results.append(result)
        with self._failures(result):
            with TesterPresentKeepalive(self.link.tester_present_functional, self.profile.timing.s3 / 2.5):
                download = self._choose(image, delta, result)
                with result.timeline.step("ReadDataByIdentifier version before") as step:
                    result.version_before = self.diagnostics.read_version()
                    step.detail = version_text(result.version_before)
                prepare_network(self.name, self.link, result.timeline)
                self._program(download, result, resume, fingerprint, progress)
                self._restart_and_read_back(result)
                restore_network(self.name, self.link, result.timeline, clear_dtcs=self.profile.clear_dtcs)
            self._judge_version(result)
        return result

    def switch_back(self, version: str) -> FlashResult:
        """A/B: start the previous bank again, which must hold ``version``; FlashError (with
        ``.result``) when the ECU refuses (0x22: nothing valid to go back to, or committed) or
        runs another version afterwards."""
        result = FlashResult(self.name, version, Timeline(), package="bank_switch")
        self.results.append(result)
        with self._failures(result):
            self._banks().switch_back(result)
        return result

    def commit_update(self) -> Timeline:
        """The running update is final (routine ``commit_bank``: the anti-rollback counter moves;
        A/B: the previous bank is no longer a fallback); FlashError when the ECU refuses."""
        timeline = Timeline()
        with self._failures(FlashResult(self.name, "commit", timeline)):
            self._banks().commit(timeline)
        return timeline

    def _banks(self) -> BankSwitch:
        return BankSwitch(self.name, self.link, self.profile, self.diagnostics, self.boot_timeout)

    @contextmanager
    def _failures(self, result: FlashResult) -> Iterator[None]:
        """What stops an attempt, kept in ``result.failure``: the ECU's refusal, silence or nonsense
        becomes a FlashError naming the step; a FlashError or UsageError carries on as it is."""
        try:
            yield
        except FlashError as exc:
            exc.result, result.failure = result, str(exc)
            raise
        except UsageError as exc:
            result.failure = str(exc)
            raise
        except (NegativeResponseException, TimeoutException, InvalidResponseException,
                UnexpectedResponseException) as exc:  # the ECU refused, went silent, or answered nonsense
            self.link.discard_pending()
            resumed = f" (this attempt {result.resume_note})" if result.resumed_block is not None else ""
            result.failure = f"{self.name}: {result.timeline.steps[-1].name} failed: {explain(exc)}{resumed}"
            raise FlashError(result.failure, result=result) from exc

    def flash_software(self, software: Sequence[SoftwareFile], *, resume: bool = False,
                       fingerprint: bytes = DEFAULT_FINGERPRINT, progress: Progress | None = None,
                       expect_version: str | None = None, tester_serial: str | None = None) -> FlashResult:
        """Flash software files (Intel HEX, S-record, binary...) as the ECU's flash specification says,
        block by block (``bench.flash.spec_flasher``). ``resume``: as the spec's ``resume`` says (start
        the logical block a failed attempt stopped in again, or start over): this flasher's last attempt
        at the same software says which, else its progress ``record`` (``bench.flash.block_resume``).
        ``expect_version``: the version the ECU must run afterwards (else any completed sequence passes).
        FlashError (with ``.result``) if the ECU does not complete a step."""
        spec = self.profile.flash_spec
        blocks = plan_blocks(software, memory_map(self.profile), spec.name)
        digest = plan_digest(blocks)
        named = expect_version or " + ".join(file.path.name for file in software)  # what reports say it flashed
        result = FlashResult(self.name, named, Timeline(), software=digest)
        start = BlockResume(self.name, digest, blocks, identity_dids(self.profile), record=self.record)
        if resume:
            self._resume(start, spec.resume)
        self.results.append(result)
        settings = SpecSettings(fingerprint, tester_serial or spec.tester_serial, datetime.datetime.now(
            datetime.timezone.utc).date(), self.block_retries, self.boot_timeout, progress)
        run = SpecFlash(self.name, self.link, self.profile, self.diagnostics, settings)
        with self._failures(result):
            with TesterPresentKeepalive(self.link.tester_present_functional, self.profile.timing.s3 / 2.5):
                run.run(result, blocks, start)
            start.completed()
            if expect_version is not None:
                self._judge_version(result)
        return result

    def _resume(self, resuming: BlockResume, resume: str) -> None:
        """Where a resumed flash by specification starts: the logical block the last failed attempt of
        this software stopped in (``restart_block``), or the first (``from_start``). The progress record
        is read now, so a broken one is refused before anything is sent."""
        if not self.profile.resume:
            resuming.why = "the ECU's profile says it does not resume (resume: false)"
            return
        if resume == "journal":
            raise UsageError(f"{self.name}: flash specification {self.profile.flash_spec.name!r} resumes from "
                             "the bench's download journal, which holds the bench's images: resume an image "
                             "with flash(image, resume=True)")
        last = next((r for r in reversed(self.results) if r.software == resuming.software), None)
        if resume == "from_start":
            resuming.why = f"flash specification {self.profile.flash_spec.name!r} resumes from the first block"
        elif last is not None and last.failure is None:
            resuming.why = "this flasher's last flash of this software completed"
        elif last is not None:
            resuming.first_block, resuming.resumed = last.blocks_done + (last.resumed_block or 0), True
            resuming.why = f"this flasher's last attempt stopped after {resuming.first_block} logical blocks"
        elif self.record is not None:
            resuming.first_block, resuming.earlier = None, self.record.read()
        else:
            resuming.why = "no earlier attempt of this software, and no progress record"

    def _choose(self, image: FirmwareImage, delta: DeltaPackage | None, result: FlashResult) -> _Download:
        """The package when the ECU takes deltas and runs its base, else the full image."""
        full = _Download(image.to_bytes(), image.header_digest, self.profile.memory.address)
        if delta is None:
            return full
        with result.timeline.step("choose delta or full") as step:
            base = f"{delta.header.base_version} ({delta.header.base_digest.hex()[:12]})"
            staging, size = self.profile.delta, len(delta.to_bytes())
            if staging is None:
                reason = "full image: the ECU profile takes no delta packages"
            elif size > staging.size:
                reason = f"full image: the {size} B package does not fit the {staging.size} B staging area"
            else:
                installed = self.diagnostics.read_image_digest()
                running = f"{self.diagnostics.read_version()} ({installed.hex()[:12]})" if installed else ""
                if installed is None:
                    reason = f"full image: the ECU has no valid application to patch (package base {base})"
                elif delta.applies_to(installed):
                    reason = f"delta: the ECU runs the package's base {base}"
                    result.package = "delta"
                elif installed == delta.header.target_digest:
                    reason = f"full image: the ECU already runs the target {running}, not the package's base {base}"
                else:
                    reason = f"full image: the ECU runs {running}, the package's base is {base}"
            step.detail = result.package_reason = reason
        if result.package == "full":
            return full
        assert staging is not None
        return _Download(delta.to_bytes(), delta.header_digest, staging.address)

    def _program(self, download: _Download, result: FlashResult, resume: bool, fingerprint: bytes,
                 progress: Progress | None) -> None:
        c, t, p = self.client, result.timeline, self.profile
        data, address = download.data, download.address
        with t.step("DiagnosticSessionControl programming"):
            c.change_session(services.DiagnosticSessionControl.Session.programmingSession)
        with t.step(f"SecurityAccess level {p.security.level:#04x}") as step:
            step.detail = security_access(c, p.security.level, up_to=p.security.lockout_delay)
        with t.step("WriteDataByIdentifier fingerprint", detail=f"DID {p.dids.fingerprint:#06x}"):
            c.write_data_by_identifier(p.dids.fingerprint, fingerprint)
        offset = self._resume_offset(download, result) if resume and p.resume else 0
        if offset == 0:
            self._routine(t, "RoutineControl erase", "erase", p.routines.erase, self._location(address, len(data)))
        if offset < len(data):  # else the journal says the whole image is in flash: go on to the checks
            with t.step("RequestDownload", detail=f"{address + offset:#x}+{len(data) - offset:#x}") as step, \
                    self._budget("request_download"):
                response = c.request_download(self._memory_location(address + offset, len(data) - offset))
                result.block_size = response.service_data.max_length - 2
                step.detail += f", block {result.block_size} B"
            self._transfer(data, offset, result, progress)
            with t.step("RequestTransferExit"), self._budget("request_transfer_exit"):
                c.request_transfer_exit()
        self._routine(t, "RoutineControl check memory", "check_memory", p.routines.check_memory)
        self._routine(t, "RoutineControl check programming dependencies", "check_dependencies",
                      p.routines.check_dependencies)

    def _budget(self, step: BudgetedStep) -> AbstractContextManager[None]:
        """The step's overall limit from ``timing.step_budget`` (none: wait while the ECU sends 0x78)."""
        return self.client.budget(self.profile.timing.step_budget.get(step))

    def _resume_offset(self, download: _Download, result: FlashResult) -> int:
        with result.timeline.step("ReadDataByIdentifier download journal") as step:
            journal = self.diagnostics.read_journal()
            same = journal.header_digest == download.header_digest and journal.total_length == len(download.data)
            offset = journal.committed if same else 0
            step.detail = f"committed {journal.committed:#x} of {journal.total_length:#x}" + \
                ("" if same else ", another image: full download")
        result.resumed_from = offset
        return offset

    def _transfer(self, data: bytes, offset: int, result: FlashResult, progress: Progress | None) -> None:
        send_blocks(self.link, data, offset, result, progress, step_name="TransferData",
                    retries=self.block_retries, budget=self.profile.timing.step_budget.get("transfer_data"))

    def _routine(self, t: Timeline, name: str, budget: BudgetedStep, routine_id: int,
                 option: bytes | None = None) -> None:
        limit = self.profile.timing.step_budget.get(budget)
        detail = f"RID {routine_id:#06x}" + (f", budget {limit:g} s" if limit else "")
        with t.step(name, detail=detail) as step, self.client.budget(limit):
            response = self.client.start_routine(routine_id, data=option)
            status = response.service_data.routine_status_record
            if status and status[0] != ROUTINE_OK:
                step.detail += f", status {status[0]:#04x}"
                raise FlashError(f"{self.name}: {routine_refusal(name, status[0])}")

    def _memory_location(self, address: int, size: int) -> MemoryLocation:
        m = self.profile.memory
        return MemoryLocation(address, size, address_format=8 * m.address_bytes,
                              memorysize_format=8 * m.length_bytes)

    def _location(self, address: int, size: int) -> bytes:
        """The erase routine's option record: ALFID, address, size."""
        loc = self._memory_location(address, size)
        return loc.alfid.get_byte() + loc.get_address_bytes() + loc.get_memorysize_bytes()

    def _restart_and_read_back(self, result: FlashResult) -> None:
        t = result.timeline
        with t.step("ECUReset hard"), self._budget("reset"):
            self.client.ecu_reset(services.ECUReset.ResetType.hardReset)
        with t.step("wait for ECU after reset") as step:
            took = self.diagnostics.wait_responsive(self.boot_timeout)
            step.detail = f"answered after {took * 1000:.0f} ms"
        with t.step("ReadDataByIdentifier version") as step:
            result.version_after = self.diagnostics.read_version()
            step.detail = version_text(result.version_after)

    def _judge_version(self, result: FlashResult) -> None:
        """Success is the flashed version running; the previous one is a rollback."""
        after, before, flashed = result.version_after, result.version_before, result.version
        if after == flashed:
            return
        if before is not None and after == before:
            result.rolled_back = True
            raise FlashRolledBack(f"{self.name}: rolled back: the ECU runs its previous version {before} "
                                  f"after flashing version {flashed}")
        raise FlashError(f"{self.name}: the ECU runs {version_text(after)} after flashing version {flashed} "
                         f"(it ran {version_text(before)} before)")
