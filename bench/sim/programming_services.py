"""The programming services of the virtual ECU's UDS server: RoutineControl (erase, check memory,
check programming dependencies, switch and commit a bank), RequestDownload, TransferData and
RequestTransferExit, with the conditions they check (security, supply voltage, the vehicle's state).

They are the flash step of the protocol, served by the download and boot managers
(``bench.sim.download``, ``bench.sim.boot``), and kept apart from the server's sessions, DIDs and
generic checks (``bench.sim.server.EcuCore``, which mixes them in). A dialect's server overrides
them where its bootloader differs (``bench.sim.dialects.his.server``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from udsoncan import Request
from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import EcuProfile
from bench.monitor.vehicle_signals import Violation
from bench.sim.boot import BootManager, SwitchRefused
from bench.sim.download import DownloadManager
from bench.sim.nrc import Nrc
from bench.sim.sessions import PROGRAMMING

MAX_LOCATION_FIELD = 4
"""Widest memoryAddress / memorySize field the ECU takes (a 32-bit part), unless its profile
says the tester sends wider ones."""


class ProgrammingServices:
    """Mixed into ``EcuCore``: the services below use its profile, session, managers and supply."""

    profile: EcuProfile
    session: int
    boot: BootManager
    download: DownloadManager
    vehicle_violations: Callable[[], list[Violation]]
    _voltage: Callable[[], float]
    _programming_voltage: tuple[float, float]
    _require_unlocked: Callable[[], None]

    def _require_safe_vehicle(self) -> None:
        """The bench's bootloaders check the vehicle state where a rest-bus sends it before they
        erase (their programming preconditions): 0x22 conditionsNotCorrect, the reasons recorded."""
        violations = self.vehicle_violations()
        if violations:
            raise Nrc(RC.ConditionsNotCorrect, "; ".join(map(str, violations)))

    def _require_programming_voltage(self) -> None:
        """Flash is only erased or programmed inside the supply window (ISO 14229-1 0x92/0x93)."""
        volts, (low, high) = self._voltage(), self._programming_voltage
        if volts < low:
            raise Nrc(RC.VoltageTooLow, f"{volts:.1f} V < {low} V")
        if volts > high:
            raise Nrc(RC.VoltageTooHigh, f"{volts:.1f} V > {high} V")

    @staticmethod
    def _started_routine(request: Request) -> tuple[int, bytes]:
        """The routine identifier of a startRoutine request, and the request's data (identifier first)."""
        if request.subfunction != 0x01:
            raise Nrc(RC.SubFunctionNotSupported, "only startRoutine")
        data = request.data or b""
        if len(data) < 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        (rid,) = struct.unpack(">H", data[:2])
        return rid, data

    def _routine_control(self, request: Request) -> bytes:
        rid, data = self._started_routine(request)
        routines = self.profile.routines
        if rid == routines.commit_bank or (rid == routines.switch_bank and self.profile.bootloader == "ab"):
            return self._bank_routine(rid, data)
        self._require_flash_routine(rid)
        if rid == routines.erase:
            address, size = self._memory_location(data[2:])
            self._require_programming_voltage()
            self._require_safe_vehicle()
            self.download.erase(address, size)
            status = 0
        elif len(data) != 2:  # the check routines take no routineControlOptionRecord
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"routine {rid:#06x} takes no option record")
        elif rid == routines.check_memory:
            status = self.download.check_memory()
        else:
            status = self.download.check_programming_dependencies()
        return bytes([0x01]) + data[:2] + bytes([status])

    def _require_flash_routine(self, rid: int) -> None:
        """``rid`` is a flash routine (erase, check memory, check dependencies), started in the
        programming session with security unlocked: else 0x31 or 0x33, in that order."""
        routines = self.profile.routines
        if rid not in (routines.erase, routines.check_memory, routines.check_dependencies):
            raise Nrc(RC.RequestOutOfRange, f"routine {rid:#06x} not supported")
        if self.session != PROGRAMMING:
            raise Nrc(RC.RequestOutOfRange, f"routine {rid:#06x} only in the programming session")
        self._require_unlocked()

    def _bank_routine(self, rid: int, data: bytes) -> bytes:
        """switch_bank (A/B) / commit_bank (A/B and single bank), in the extended or programming
        session, unlocked; the switch takes effect at the next reset. 0x22 when there is no
        previous software to switch to."""
        self._require_unlocked()
        if len(data) != 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"routine {rid:#06x} takes no option record")
        if rid == self.profile.routines.commit_bank:
            self.boot.commit()
        else:
            try:
                self.boot.switch_back()
            except SwitchRefused as exc:
                raise Nrc(RC.ConditionsNotCorrect, str(exc)) from None
        return bytes([0x01]) + data[:2] + bytes([0x00])

    def _memory_location(self, record: bytes) -> tuple[int, int]:
        """addressAndLengthFormatIdentifier, memoryAddress, memorySize (ISO 14229-1, 14.2): an
        identifier the ECU cannot take (a zero nibble, a field wider than it has) is out of
        range (0x31); only a record whose length does not match a valid identifier is 0x13."""
        if not record:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "no addressAndLengthFormatIdentifier")
        size_len, addr_len = record[0] >> 4, record[0] & 0x0F
        memory = self.profile.memory
        if not 0 < addr_len <= max(MAX_LOCATION_FIELD, memory.address_bytes) \
                or not 0 < size_len <= max(MAX_LOCATION_FIELD, memory.length_bytes):
            raise Nrc(RC.RequestOutOfRange, f"addressAndLengthFormatIdentifier {record[0]:#04x} not supported")
        if len(record) != 1 + addr_len + size_len:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "memory location does not match its format")
        address = int.from_bytes(record[1:1 + addr_len], "big")
        size = int.from_bytes(record[1 + addr_len:], "big")
        return address, size

    def _request_download(self, request: Request) -> bytes:
        data = request.data or b""
        if len(data) < 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        address, size = self._memory_location(data[1:])
        if data[0] != 0x00:
            raise Nrc(RC.RequestOutOfRange, "compression/encryption not supported")
        self._require_programming_voltage()
        self.download.request_download(address, size)
        return bytes([0x20]) + struct.pack(">H", self.profile.max_block_length)

    def _transfer_data(self, request: Request) -> bytes:
        data = request.data or b""
        if not data:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "no blockSequenceCounter")
        counter, block = data[0], data[1:]
        if self.download.check_block(counter, block):  # sequence checks first: a repeat is acknowledged
            self._require_programming_voltage()
        self.download.transfer_data(counter, block)
        return data[:1]

    def _request_transfer_exit(self, request: Request) -> bytes:
        self.download.request_transfer_exit()
        return b""
