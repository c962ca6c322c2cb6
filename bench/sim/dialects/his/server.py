"""The UDS server of a HIS-style bootloader: the bench's server (``bench.sim.server.EcuCore``,
its ISO 14229-1 order of checks) with this dialect's services where they differ.

- DiagnosticSessionControl: the programming session only from the extended one (0x7E from default).
- RoutineControl (startRoutine only):
  * 0x0203 check programming preconditions, in the extended or programming session, no option
    record; status 0x00 ready, ``PRECONDITION_VOLTAGE`` (0x01) the supply is outside the
    programming window; else, where a rest-bus sends the vehicle state, one byte per condition the
    state heard breaks (``PRECONDITION_STATUS``: 0x02 vehicle moving, 0x03 not parked, 0x04
    ignition not on, 0x05 low battery), the reasons in words on the ECU's console;
  * 0xFF00 erase, option record addressAndLengthFormatIdentifier + address + size inside one
    logical block: erases that whole block. Needs a fingerprint written since the last power-on
    or reset (else 0x22 conditionsNotCorrect);
  * 0x0202 check memory, option record the block's CRC-32 (4 bytes, big-endian): 0x00 correct,
    0x01 incorrect;
  * 0xFF01 check programming dependencies: 0x00 OK, 0x01 not.
- RequestDownload: dataFormatIdentifier 0x00 (plain) or 0x10 (zlib, decoded by the ECU;
  memorySize is the uncompressed size).
- DIDs: the version (0xF195) the application block names, the fingerprint (0xF15A, 9 bytes:
  tester serial 6, date YY MM DD in BCD), the profile's identification DIDs, the boot state
  (0xFD02); no journal, no image digest.
"""

from __future__ import annotations

import struct

from udsoncan import Request
from udsoncan.ResponseCode import ResponseCode as RC

from bench.dids import BootMode, BootStatus
from bench.monitor.vehicle_signals import IGNITION, LOW_BATTERY, MOVING, NOT_PARKED
from bench.sim.nrc import Nrc
from bench.sim.server import EcuCore
from bench.sim.sessions import DEFAULT, EXTENDED, PROGRAMMING

FINGERPRINT_LENGTH = 9
"""Tester serial number (6 bytes) and programming date (YY MM DD, BCD)."""
PRECONDITIONS_OK, PRECONDITION_VOLTAGE = 0x00, 0x01
"""routineStatusRecord of 0x0203: ready to program; supply voltage outside the programming window."""
PRECONDITION_STATUS = {MOVING: 0x02, NOT_PARKED: 0x03, IGNITION: 0x04, LOW_BATTERY: 0x05}
"""routineStatusRecord of 0x0203 per vehicle condition broken (``bench.monitor.vehicle_signals``)."""


class HisCore(EcuCore):
    fingerprint_length = FINGERPRINT_LENGTH

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - EcuCore's
        super().__init__(*args, **kwargs)
        self.fingerprint_written = False
        """A fingerprint was written since this power-on or reset: erasing is allowed."""

    def _session_control(self, request: Request) -> bytes:
        if request.subfunction == PROGRAMMING and self.session == DEFAULT:
            raise Nrc(RC.SubFunctionNotSupportedInActiveSession, "programming session only from extended")
        return super()._session_control(request)

    def _did_value(self, did: int) -> bytes:
        dids = self.profile.dids
        if did == dids.version:
            running = self.boot.running
            version = running.version if running.mode == BootMode.APPLICATION else self.boot.installed_version()
            if version is None:
                raise Nrc(RC.ConditionsNotCorrect, "no complete application")
            return version.encode("ascii")
        if did == dids.fingerprint:
            return bytes.fromhex(self.store.record.fingerprint).ljust(FINGERPRINT_LENGTH, b"\0")
        if did == dids.boot_state:
            running = self.boot.running
            return BootStatus(running.mode, 0, running.state, 0).pack()
        return self._identification(did)

    def _write_did(self, request: Request) -> bytes:
        answer = super()._write_did(request)  # the fingerprint, as the bench's bootloader takes it
        self.fingerprint_written = True
        return answer

    def _routine_control(self, request: Request) -> bytes:
        rid, data = self._started_routine(request)
        routines = self.profile.routines
        if rid == routines.check_preconditions:
            return bytes([0x01]) + data[:2] + self._check_preconditions(data[2:])
        self._require_flash_routine(rid)
        if rid == routines.erase:
            status = self._erase(data[2:])
        elif rid == routines.check_memory:
            if len(data) != 6:
                raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "0x0202 takes the CRC-32 (4 bytes)")
            status = self.download.check_crc(int.from_bytes(data[2:], "big"))
        elif len(data) != 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"routine {rid:#06x} takes no option record")
        else:
            status = self.download.check_programming_dependencies()
        return bytes([0x01]) + data[:2] + bytes([status])

    def _check_preconditions(self, record: bytes) -> bytes:
        if self.session not in (EXTENDED, PROGRAMMING):
            raise Nrc(RC.RequestOutOfRange, "0x0203 only in the extended and programming sessions")
        if record:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "0x0203 takes no option record")
        try:
            self._require_programming_voltage()
        except Nrc:
            return bytes([PRECONDITION_VOLTAGE])
        broken = dict.fromkeys(PRECONDITION_STATUS[violation.kind] for violation in self.vehicle_violations())
        return bytes(broken) or bytes([PRECONDITIONS_OK])

    def _erase(self, record: bytes) -> int:
        address, size = self._memory_location(record)
        block = self.download.block_of(address, size)
        if not self.fingerprint_written:
            raise Nrc(RC.ConditionsNotCorrect, "no fingerprint (0xF15A) written before the erase")
        self._require_programming_voltage()
        self.download.erase_block(block)
        return 0x00

    def _request_download(self, request: Request) -> bytes:
        data = request.data or b""
        if len(data) < 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        address, size = self._memory_location(data[1:])
        formats = self.download.data_formats()
        if data[0] not in formats:
            raise Nrc(RC.RequestOutOfRange, f"dataFormatIdentifier {data[0]:#04x} not supported "
                                            f"({', '.join(f'{f:#04x}' for f in sorted(formats))})")
        self._require_programming_voltage()
        self.download.request_download(address, size, data[0])
        return bytes([0x20]) + struct.pack(">H", self.profile.max_block_length)
