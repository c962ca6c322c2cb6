"""Reprogram one ECU the ISO 14229 way, driven by its profile.

Pre-programming (extended session, DTC setting off, communication control), programming
session, security access, fingerprint, erase, RequestDownload, TransferData in blocks sized
from the ECU's answer, RequestTransferExit, CheckMemory, CheckProgrammingDependencies, reset,
and the version read back once the ECU runs again. With ``resume=True`` the download journal
decides where to continue. 0x78 and the session timings are udsoncan's job, configured from
the profile; TesterPresent keeps the session open throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from udsoncan import MemoryLocation, services
from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.config.models import EcuProfile
from bench.errors import FlashError
from bench.flash.diagnostics import EcuDiagnostics
from bench.flash.keepalive import TesterPresentKeepalive
from bench.flash.timeline import Timeline
from bench.image import FirmwareImage
from bench.transport.uds_client import TesterLink

Progress = Callable[[int, int], None]
"""Called with (bytes programmed so far, image length) after every block."""

DEFAULT_FINGERPRINT = b"OTA-HIL-BENCH"
ROUTINE_OK = 0x00


@dataclass
class FlashResult:
    ecu: str
    version: str
    timeline: Timeline
    resumed_from: int = 0
    """Offset the download continued from (0 for a full download)."""
    blocks_sent: int = 0
    bytes_sent: int = 0
    retries: int = 0
    version_after: str | None = None
    block_size: int = 0
    notes: list[str] = field(default_factory=list)
    failure: str | None = None
    """Why the attempt stopped (the FlashError's message); None when it completed."""


class Flasher:
    def __init__(self, name: str, link: TesterLink, profile: EcuProfile, *, block_retries: int = 3,
                 boot_timeout: float = 5.0) -> None:
        self.name = name
        self.link = link
        self.profile = profile
        self.diagnostics = EcuDiagnostics(link.client, profile)
        self.block_retries = block_retries
        self.boot_timeout = boot_timeout
        self.results: list[FlashResult] = []
        """Every flash attempt of this flasher, failed ones included (evidence for reports)."""

    @property
    def client(self):  # noqa: ANN201 - udsoncan Client
        return self.link.client

    def flash(self, image: FirmwareImage, *, resume: bool = False, fingerprint: bytes = DEFAULT_FINGERPRINT,
              progress: Progress | None = None) -> FlashResult:
        """Program ``image``; FlashError (with ``.result``) if the ECU does not complete a step."""
        result = FlashResult(self.name, image.header.version, Timeline())
        self.results.append(result)
        try:
            with TesterPresentKeepalive(self.link.tester_present_functional, self.profile.timing.s3 / 2.5):
                self._program(image, result, resume, fingerprint, progress)
            self._restart_and_read_back(result)
        except FlashError as exc:
            exc.result, result.failure = result, str(exc)
            raise
        except (NegativeResponseException, TimeoutException, InvalidResponseException,
                UnexpectedResponseException) as exc:  # the ECU refused, went silent, or answered nonsense
            self.link.discard_pending()
            result.failure = f"{self.name}: {result.timeline.steps[-1].name} failed: {exc}"
            raise FlashError(result.failure, result=result) from exc
        return result

    def _program(self, image: FirmwareImage, result: FlashResult, resume: bool, fingerprint: bytes,
                 progress: Progress | None) -> None:
        c, t, p = self.client, result.timeline, self.profile
        data = image.to_bytes()
        with t.step("DiagnosticSessionControl extended"):
            c.change_session(services.DiagnosticSessionControl.Session.extendedDiagnosticSession)
        with t.step("ControlDTCSetting off"):
            c.control_dtc_setting(services.ControlDTCSetting.SettingType.off)
        with t.step("CommunicationControl disable non-diagnostic"):
            c.communication_control(services.CommunicationControl.ControlType.enableRxAndDisableTx, 0x01)
        with t.step("DiagnosticSessionControl programming"):
            c.change_session(services.DiagnosticSessionControl.Session.programmingSession)
        with t.step(f"SecurityAccess level {p.security.level:#04x}"):
            c.unlock_security_access(p.security.level)
        with t.step("WriteDataByIdentifier fingerprint", detail=f"DID {p.dids.fingerprint:#06x}"):
            c.write_data_by_identifier(p.dids.fingerprint, fingerprint)
        offset = self._resume_offset(image, result) if resume and p.resume else 0
        if offset == 0:
            self._routine(t, "RoutineControl erase", p.routines.erase, self._location(p.memory.address, len(data)))
        if offset < len(data):  # else the journal says the whole image is in flash: go on to the checks
            with t.step("RequestDownload", detail=f"{p.memory.address + offset:#x}+{len(data) - offset:#x}") as step:
                response = c.request_download(self._memory_location(p.memory.address + offset, len(data) - offset))
                result.block_size = response.service_data.max_length - 2
                step.detail += f", block {result.block_size} B"
            self._transfer(data, offset, result, progress)
            with t.step("RequestTransferExit"):
                c.request_transfer_exit()
        self._routine(t, "RoutineControl check memory", p.routines.check_memory)
        self._routine(t, "RoutineControl check programming dependencies", p.routines.check_dependencies)

    def _resume_offset(self, image: FirmwareImage, result: FlashResult) -> int:
        with result.timeline.step("ReadDataByIdentifier download journal") as step:
            journal = self.diagnostics.read_journal()
            same = journal.header_digest == image.header_digest and journal.total_length == len(image.to_bytes())
            offset = journal.committed if same else 0
            step.detail = f"committed {journal.committed:#x} of {journal.total_length:#x}" + \
                ("" if same else ", another image: full download")
        result.resumed_from = offset
        return offset

    def _transfer(self, data: bytes, offset: int, result: FlashResult, progress: Progress | None) -> None:
        block = result.block_size
        with result.timeline.step("TransferData") as step:
            counter = 1
            for start in range(offset, len(data), block):
                chunk = data[start:start + block]
                for attempt in range(self.block_retries + 1):
                    try:
                        self.client.transfer_data(counter, chunk)
                        break
                    except TimeoutException:  # response lost: the ECU acknowledges a repeat without rewriting
                        if attempt == self.block_retries:
                            step.detail = f"block {result.blocks_sent + 1} (counter {counter:#04x}) unanswered"
                            raise
                        result.retries += 1
                        step.retries += 1
                        self.link.discard_pending()
                result.blocks_sent += 1
                result.bytes_sent += len(chunk)
                step.bytes = result.bytes_sent
                counter = (counter + 1) & 0xFF
                if progress:
                    progress(start + len(chunk), len(data))
            step.detail = f"{result.blocks_sent} blocks from {offset:#x}"

    def _routine(self, t: Timeline, name: str, routine_id: int, option: bytes | None = None) -> None:
        with t.step(name, detail=f"RID {routine_id:#06x}") as step:
            response = self.client.start_routine(routine_id, data=option)
            status = response.service_data.routine_status_record
            if status and status[0] != ROUTINE_OK:
                step.detail += f", status {status[0]:#04x}"
                raise FlashError(f"{self.name}: {name} reported status {status[0]:#04x}")

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
        with t.step("ECUReset hard"):
            self.client.ecu_reset(services.ECUReset.ResetType.hardReset)
        with t.step("wait for ECU after reset") as step:
            took = self.diagnostics.wait_responsive(self.boot_timeout)
            step.detail = f"answered after {took * 1000:.0f} ms"
        with t.step("ReadDataByIdentifier version") as step:
            result.version_after = self.diagnostics.read_version()
            step.detail = repr(result.version_after)
        if result.version_after != result.version:
            result.notes.append(f"ECU reports {result.version_after!r} after flashing {result.version!r}")
