"""The interpreter of a flash specification (``bench.config.flash_spec``): its steps sent in order,
each one a step of the timeline under the spec's name, the logical blocks of the software one
after another (erase, RequestDownload, TransferData, RequestTransferExit, check).

Requests are ISO 14229-1's, sent with udsoncan: RoutineControl startRoutine (31 01 RID record),
RequestDownload 34 DFI ALFID address size (the dataFormatIdentifier's high nibble the compression
method, its low nibble the encryption method; memorySize the uncompressed size unless the spec says
otherwise), TransferData in blocks of maxNumberOfBlockLength - 2 data bytes (the ECU's answer, or
the spec's cap if smaller), RequestTransferExit 37 with the spec's transferRequestParameterRecord.
Functional requests go to the ECU's functional address as single frames (``bench.flash.network``).

A step the ECU refuses raises udsoncan's exception (the flasher turns it into a ``FlashError``);
a routine whose status is not one the spec calls ok raises ``FlashError`` with the status's
meaning; a DID that does not hold what the spec expects (hardware number, bootloader version)
refuses the ECU with the spec's message, a ``UsageError``: the wrong software or the wrong ECU.
"""

from __future__ import annotations

import datetime
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from udsoncan import DataFormatIdentifier, MemoryLocation, Request, services
from udsoncan.exceptions import NegativeResponseException

from bench.config.flash_spec import (RESET_TYPES, SESSIONS, BlockRoutine, ClearDtcsStep, CommunicationControlStep,
                                     DtcSettingStep, EcuResetStep, FlashSpec, LogicalBlocksStep, MemoryFormat,
                                     ReadDidStep, RoutineStep, SecurityAccessStep, SessionStep, Status, WriteDidStep)
from bench.config.key_functions import resolve_key_function, resolve_security_key
from bench.config.models import EcuProfile
from bench.errors import FlashError, UsageError
from bench.flash.block_plan import PlannedBlock
from bench.flash.block_resume import BlockResume
from bench.flash.diagnostics import EcuDiagnostics
from bench.flash.network import send_functional
from bench.flash.records import BlockRecordValues, option_record, write_record
from bench.flash.result import FlashResult, Progress
from bench.flash.security_delay import security_access
from bench.flash.transfer import send_blocks
from bench.image.download_cipher import encrypt
from bench.transport.uds_client import TesterLink

ABSENT = (0x22, 0x31)
"""conditionsNotCorrect, requestOutOfRange: a DID with nothing to read (e.g. no valid application)."""


@dataclass
class SpecSettings:
    """What one run of a spec needs besides the spec: the flash call's options and the tester's ways."""

    fingerprint: bytes
    tester_serial: str
    today: datetime.date
    block_retries: int
    boot_timeout: float
    progress: Progress | None = None


class SpecFlash:
    """One attempt at flashing ``blocks`` by ``spec``, from logical block ``first_block`` on."""

    def __init__(self, name: str, link: TesterLink, profile: EcuProfile, diagnostics: EcuDiagnostics,
                 settings: SpecSettings) -> None:
        self.name, self.link, self.profile, self.diagnostics = name, link, profile, diagnostics
        self.settings = settings
        self.client = link.client
        self.spec: FlashSpec = profile.flash_spec

    def run(self, result: FlashResult, blocks: Sequence[PlannedBlock], start: BlockResume) -> None:
        """Every step of the spec; the logical blocks from the one ``start`` chooses, each on its record."""
        handlers: dict[type, Callable[[Any, FlashResult], None]] = {
            SessionStep: self._session, DtcSettingStep: self._dtc_setting,
            CommunicationControlStep: self._communication_control, ClearDtcsStep: self._clear_dtcs,
            SecurityAccessStep: self._security_access, ReadDidStep: self._read_did, WriteDidStep: self._write_did,
            RoutineStep: self._routine_step, EcuResetStep: self._ecu_reset}
        steps = self.spec.steps
        for position, step in enumerate(steps):
            # after a suppressed functional request the tester waits P3client_func before any next request:
            # this ECU may refuse in that time. After a session change followed by a physical request it also
            # allows ΔP2: the ECU handles functional and physical requests apart, so on a loaded host the
            # physical request could overtake the session it needs (31 01 02 03 after 10 83).
            following = steps[position + 1] if position + 1 < len(steps) else None
            depends = isinstance(step, SessionStep) and not getattr(following, "functional", False)
            self._p3 = None if following is None else \
                self.client.server_p2 + (self.client.floor.network_margin if depends else 0.0)
            if isinstance(step, LogicalBlocksStep):
                self._logical_blocks(step, result, blocks, start)
            else:
                handlers[type(step)](step, result)

    # -- requests that may be functional ---------------------------------------------------------

    def _send(self, step: Any, default_name: str, request: Request, physical: Callable[[], object],
              result: FlashResult) -> None:
        name = step.name or default_name + (" (functional)" if step.functional else "")
        if step.functional:
            payload = request.get_payload(suppress_positive_response=step.suppress)
            send_functional(self.name, self.link, result.timeline, name, payload, suppressed=step.suppress,
                            last=self._p3 is None, wait=self._p3)
            return
        with result.timeline.step(name):
            if step.suppress:
                with self.client.suppress_positive_response(wait_nrc=True):
                    physical()
            else:
                physical()

    def _session(self, step: SessionStep, result: FlashResult) -> None:
        session = SESSIONS.get(step.session, step.session) if isinstance(step.session, str) else step.session
        label = step.session if isinstance(step.session, str) else f"{session:#04x}"
        self._send(step, f"DiagnosticSessionControl {label}", services.DiagnosticSessionControl.make_request(session),
                   lambda: self.client.change_session(session), result)

    def _dtc_setting(self, step: DtcSettingStep, result: FlashResult) -> None:
        setting = {"on": services.ControlDTCSetting.SettingType.on,
                   "off": services.ControlDTCSetting.SettingType.off}[step.setting]
        self._send(step, f"ControlDTCSetting {step.setting}", services.ControlDTCSetting.make_request(setting),
                   lambda: self.client.control_dtc_setting(setting), result)

    def _communication_control(self, step: CommunicationControlStep, result: FlashResult) -> None:
        request = services.CommunicationControl.make_request(step.control, step.communication_type)
        self._send(step, f"CommunicationControl {step.control:#04x}", request,
                   lambda: self.client.communication_control(step.control, step.communication_type), result)

    def _clear_dtcs(self, step: ClearDtcsStep, result: FlashResult) -> None:
        name = step.name or "ClearDiagnosticInformation" + (" (functional)" if step.functional else "")
        if step.functional:
            payload = services.ClearDiagnosticInformation.make_request(group=step.group).get_payload()
            send_functional(self.name, self.link, result.timeline, name, payload, suppressed=False)
            return
        with result.timeline.step(name):
            self.client.clear_dtc(step.group)

    # -- physical steps ----------------------------------------------------------------------------

    def _security_access(self, step: SecurityAccessStep, result: FlashResult) -> None:
        security = self.profile.security
        try:  # the step's own key function for this level, else the profile's (a callable or a seed-key library)
            key_function = resolve_key_function(step.key_function) if step.key_function \
                else resolve_security_key(security)
        except ValueError as exc:
            raise UsageError(f"{self.name}: flash specification {self.spec.name!r}: security level "
                             f"{step.level:#04x}: {exc}") from None
        params = step.key_params if step.key_params is not None else dict(security.key_params)
        with result.timeline.step(step.name or f"SecurityAccess level {step.level:#04x}") as timed:
            timed.detail = security_access(self.client, step.level, up_to=security.lockout_delay,
                                           key_function=key_function, key_params=params)

    def _read_did(self, step: ReadDidStep, result: FlashResult) -> None:
        with result.timeline.step(step.name or f"ReadDataByIdentifier {step.did:#06x}") as timed:
            try:
                response = self.client.send_request(
                    Request(services.ReadDataByIdentifier, data=struct.pack(">H", step.did)))
            except NegativeResponseException as exc:
                if not (step.absent_ok and exc.response.code in ABSENT):
                    raise
                timed.detail = f"none (NRC {exc.response.code:#04x})"
                return
            assert response is not None
            raw = bytes(response.data)
            if raw[:2] != struct.pack(">H", step.did):
                raise FlashError(f"{self.name}: {timed.name}: the answer {raw.hex(' ')} is not for DID {step.did:#06x}")
            value = raw[2:].decode("ascii", "replace").rstrip("\0 ") if step.decode == "ascii" else raw[2:].hex()
            timed.detail = repr(value)
            result.dids_read[step.did] = value
        if step.record_as is not None:
            setattr(result, step.record_as, value)
            self.diagnostics.versions_read.add(value)
        if step.expect is not None and value not in step.expect.one_of:
            message = step.expect.refusal.format(name=timed.name, value=value,
                                                 expected=" or ".join(step.expect.one_of))
            timed.outcome = f"refused: {message}"
            raise UsageError(f"{self.name}: {message}")

    def _write_did(self, step: WriteDidStep, result: FlashResult) -> None:
        s = self.settings
        record = write_record(step.record, tester_serial=s.tester_serial, fingerprint=s.fingerprint, today=s.today)
        with result.timeline.step(step.name or f"WriteDataByIdentifier {step.did:#06x}",
                                  detail=f"DID {step.did:#06x}: {record.hex(' ').upper()}"):
            self.client.send_request(Request(services.WriteDataByIdentifier,
                                             data=struct.pack(">H", step.did) + record))

    def _routine_step(self, step: RoutineStep, result: FlashResult) -> None:
        self._routine(result, step.name or f"RoutineControl {step.routine_id:#06x}", step.routine_id,
                      option_record(step, None), step.status, step.budget)

    def _routine(self, result: FlashResult, name: str, routine_id: int, record: bytes, status: Status,
                 budget: str | None) -> None:
        limit = self.profile.timing.step_budget.get(budget) if budget else None  # type: ignore[call-overload]
        detail = f"RID {routine_id:#06x}" + (f" {record.hex(' ').upper()}" if record else "") + \
            (f", budget {limit:g} s" if limit else "")
        with result.timeline.step(name, detail=detail) as timed, self.client.budget(limit):
            response = self.client.start_routine(routine_id, data=record or None)
            answer = bytes(response.service_data.routine_status_record or b"")
            if not answer:
                if status.required:
                    raise FlashError(f"{self.name}: {name}: no routineStatusRecord in the answer")
                return
            timed.detail += f", status {answer[0]:#04x}"
            if answer[0] not in status.ok:
                meaning = status.meanings.get(answer[0], "not a status the flash specification calls ok")
                raise FlashError(f"{self.name}: {name} reported status {answer[0]:#04x}: {meaning}")

    def _ecu_reset(self, step: EcuResetStep, result: FlashResult) -> None:
        reset = RESET_TYPES[step.reset_type] if isinstance(step.reset_type, str) else step.reset_type
        label = step.reset_type if isinstance(step.reset_type, str) else f"{reset:#04x}"
        budget = self.profile.timing.step_budget.get("reset")
        with result.timeline.step(step.name or f"ECUReset {label}"), self.client.budget(budget):
            self.client.ecu_reset(reset)
        with result.timeline.step(step.wait_name) as timed:
            took = self.diagnostics.wait_responsive(self.settings.boot_timeout)
            timed.detail = f"answered after {took * 1000:.0f} ms"

    # -- the logical blocks ------------------------------------------------------------------------

    def _logical_blocks(self, step: LogicalBlocksStep, result: FlashResult, blocks: Sequence[PlannedBlock],
                        start: BlockResume) -> None:
        first_block = start.start(result)
        total = sum(len(block.data) for block in blocks)
        done = sum(len(block.data) for block in blocks[:first_block])
        for block in blocks[first_block:]:
            names = {"index": block.index, "region": block.region.name if block.region else ""}
            if step.erase is not None:
                self._block_routine(step.erase, "RoutineControl erase block {index}", "erase", block, names, result)
            self._download(step, block, names, result, done, total)
            if step.check is not None:
                self._block_routine(step.check, "RoutineControl check block {index}", "check_memory", block, names,
                                    result)
            done += len(block.data)
            result.blocks_done += 1
            start.block_done(result)

    def _block_routine(self, routine: BlockRoutine, default_name: str, budget: str, block: PlannedBlock,
                       names: dict[str, object], result: FlashResult) -> None:
        if routine.range == "file":
            if not block.erase:
                raise UsageError(f"{self.name}: flash specification {self.spec.name!r} erases the ranges the "
                                 f"software file gives, and it gives none for logical block {block.index} (VBF "
                                 "files do, in 'erase')")
            spans = list(block.erase)
        elif routine.range == "region" and block.region is not None:
            spans = [(block.region.address, block.region.size)]
        else:
            spans = [(block.address, len(block.data))]
        for address, size in spans:
            values = BlockRecordValues(block.index, address, size, block.data, block.file_checksum, block.header)
            self._routine(result, (routine.name or default_name).format(**names), routine.routine_id,
                          option_record(routine, values), routine.status, budget)

    def _download(self, step: LogicalBlocksStep, block: PlannedBlock, names: dict[str, object],
                  result: FlashResult, done: int, total: int) -> None:
        download, c = step.download, self.client
        sent = zlib.compress(block.data) if download.codec == "zlib" else block.data
        if download.cipher != "none":
            assert download.key is not None  # the spec's validation
            sent = encrypt(sent, download.key.value, download.nonce.value)
        size = len(block.data) if download.memory_size == "uncompressed" else len(sent)
        location = _location(download, block.address, size)
        dfi = DataFormatIdentifier(compression=download.compression, encryption=download.encryption)
        budgets = self.profile.timing.step_budget
        with result.timeline.step((download.name or "RequestDownload block {index}").format(**names),
                                  detail=f"{block.address:#x}+{size:#x}, DFI {dfi.get_byte_as_int():#04x}") as timed, \
                c.budget(budgets.get("request_download")):
            answer = c.request_download(location, dfi=dfi).service_data.max_length
            cap = download.max_block_length or answer
            result.block_size = min(answer, cap) - 2
            timed.detail += f", {len(sent)} B sent in blocks of {result.block_size} B"
        if result.block_size < 1:
            raise FlashError(f"{self.name}: {timed.name}: maxNumberOfBlockLength {answer} leaves no room for data")
        progress = self.settings.progress
        written = len(block.data)  # progress counts bytes as written to flash, however many are sent
        send_blocks(self.link, sent, 0, result,
                    progress and (lambda sent_so_far, _: progress(done + sent_so_far * written // len(sent), total)),
                    step_name=download.transfer_name.format(**names), retries=self.settings.block_retries,
                    budget=budgets.get("transfer_data"))
        exit_ = step.transfer_exit
        values = BlockRecordValues(block.index, block.address, len(block.data), block.data, block.file_checksum,
                                   block.header)
        record = option_record(exit_, values)
        with result.timeline.step((exit_.name or "RequestTransferExit block {index}").format(**names),
                                  detail=record.hex(" ").upper()), c.budget(budgets.get("request_transfer_exit")):
            c.request_transfer_exit(data=record or None)


def _location(fmt: MemoryFormat, address: int, size: int) -> MemoryLocation:
    return MemoryLocation(address, size, address_format=8 * fmt.address_bytes,
                          memorysize_format=8 * fmt.length_bytes)

