"""The UDS server of the virtual ECU: one request in, at most one response out.

Transport-free (``handle(payload) -> Reply``) so the state machine is testable without a bus.
Negative responses follow ISO 14229-1's order of checks (7.5, figures 5 to 7):

1. service not supported (0x11), then not supported in the active session (0x7F);
2. security, for a service secured as a whole (0x33: RequestDownload, TransferData,
   RequestTransferExit), before anything in the request is looked at;
3. for a service with a sub-function: minimum length (0x13), sub-function not supported
   (0x12), not supported in the active session (0x7E), request sequence (0x24, e.g. sendKey
   without a seed);
4. the service's own checks, in its order: length and format (0x13), range (0x31), security
   for a secured identifier (0x33), sequence (0x24), conditions (0x22, 0x70, 0x92/0x93).

A request the server cannot handle for a reason no NRC describes (a simulator bug) answers
generalReject (0x10) and the ECU goes on; power loss still ends the run.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from udsoncan import Request, Response
from udsoncan.ResponseCode import ResponseCode as RC
from udsoncan import services as svc

from bench.config.models import EcuProfile
from bench.dids import FINGERPRINT_LENGTH, BootMode, BootStatus
from bench.monitor.vehicle_signals import Violation
from bench.power.virtual import NOMINAL_VOLTAGE
from bench.sim.boot import BootManager
from bench.sim.download import DownloadManager
from bench.sim.nrc import SUPPRESSED_ON_FUNCTIONAL, Nrc
from bench.sim.nvm import PowerLost
from bench.sim.programming_services import ProgrammingServices
from bench.sim.record import RecordStore
from bench.sim.security import SecurityAccess
from bench.sim.sessions import ALL_SESSIONS, DEFAULT, EXTENDED, NON_DEFAULT, PROGRAMMING
log = logging.getLogger(__name__)

COMMUNICATION_TYPES = frozenset({0x01, 0x02, 0x03})
"""communicationType bits 0-1 (normal, network management, both); 0 is reserved (ISO 14229-1 B.1)."""
SUBNETS = frozenset({0x0, 0xF})
"""communicationType bits 4-7: all networks, or the one the request came on (the ECU has one)."""


@dataclass(frozen=True)
class Reply:
    response: bytes | None
    reset_after: bool = False
    """Send the response, then reset (ECUReset, leaving a non-default session in the bootloader)."""
    withheld: bytes | None = None
    """The response the request's suppressPosRspMsgIndicationBit (or functional addressing)
    suppressed: it goes out all the same when a 0x78 has been sent for the request, because
    after responsePending the final response is mandatory (ISO 14229-1, 7.5 and 8.7)."""


@dataclass(frozen=True)
class _Service:
    handler: Callable[[Request], bytes]
    sessions: frozenset[int]
    secured: bool = False
    """Secured as a whole: locked, it answers 0x33 whatever the request holds."""


class EcuCore(ProgrammingServices):
    fingerprint_length = FINGERPRINT_LENGTH
    """Bytes of the fingerprint record (DID ``dids.fingerprint``) this bootloader keeps and takes."""

    def __init__(self, name: str, profile: EcuProfile, store: RecordStore, boot: BootManager,
                 download: DownloadManager, security: SecurityAccess,
                 clock: Callable[[], float] = time.monotonic,
                 voltage: Callable[[], float] = lambda: NOMINAL_VOLTAGE,
                 programming_voltage: tuple[float, float] = (9.0, 16.0),
                 vehicle_violations: Callable[[], list[Violation]] = lambda: []) -> None:
        self.name = name
        self.profile = profile
        self.store = store
        self.boot = boot
        self.download = download
        self.security = security
        self._clock = clock
        self._voltage = voltage
        self._programming_voltage = programming_voltage
        self.vehicle_violations = vehicle_violations
        """Why the vehicle state heard on the bus forbids programming, asked when the bootloader
        checks its preconditions (empty: it allows it, or no vehicle state is sent where the ECU is;
        each call a check that is recorded)."""
        self.session = DEFAULT
        self.communication_control = (0x00, 0x00)
        """(controlType, communicationType) of the last CommunicationControl."""
        self.dtc_setting_on = True
        self.last_request = clock()
        only_programming = frozenset({PROGRAMMING})
        self._services: dict[type, _Service] = {
            svc.DiagnosticSessionControl: _Service(self._session_control, ALL_SESSIONS),
            svc.ECUReset: _Service(self._ecu_reset, ALL_SESSIONS),
            svc.TesterPresent: _Service(self._tester_present, ALL_SESSIONS),
            svc.ReadDataByIdentifier: _Service(self._read_did, ALL_SESSIONS),
            svc.WriteDataByIdentifier: _Service(self._write_did, NON_DEFAULT),
            svc.SecurityAccess: _Service(self._security_access, NON_DEFAULT),
            svc.CommunicationControl: _Service(self._communication_control, NON_DEFAULT),
            svc.ControlDTCSetting: _Service(self._control_dtc_setting, NON_DEFAULT),
            svc.RoutineControl: _Service(self._routine_control, NON_DEFAULT),
            svc.RequestDownload: _Service(self._request_download, only_programming, secured=True),
            svc.TransferData: _Service(self._transfer_data, only_programming, secured=True),
            svc.RequestTransferExit: _Service(self._request_transfer_exit, only_programming, secured=True),
        }
        self._reset_after = False

    # -- entry points --------------------------------------------------------------------

    def handle(self, payload: bytes, *, functional: bool = False) -> Reply:
        self.last_request = self._clock()
        self._reset_after = False
        if not payload:  # no SID, nothing to answer (ISO-TP never delivers an empty message)
            return Reply(None)
        suppress = False
        try:
            request = Request.from_payload(payload)
            suppress = request.suppress_positive_response
            response = self._serve(request)
        except Nrc as nrc:
            negative = bytes([0x7F, payload[0], nrc.code])
            if functional and nrc.code in SUPPRESSED_ON_FUNCTIONAL:
                return Reply(None, withheld=negative)
            return Reply(negative)
        except PowerLost:
            raise
        except Exception:  # a simulator bug: answer it, log it, live on (no input may kill the ECU)
            log.exception("virtual ECU %s: request %s failed", self.name, payload.hex(" "))
            return Reply(bytes([0x7F, payload[0], RC.GeneralReject]))
        if suppress:
            return Reply(None, self._reset_after, withheld=response)
        return Reply(response, self._reset_after)

    def _serve(self, request: Request) -> bytes:
        """The positive response to ``request``, or Nrc; the generic checks of the module docstring."""
        service = request.service
        if service is None or service not in self._services:
            raise Nrc(RC.ServiceNotSupported)
        entry = self._services[service]
        if self.session not in entry.sessions:
            raise Nrc(RC.ServiceNotSupportedInActiveSession)
        if entry.secured:
            self._require_unlocked()
        if service.use_subfunction() and request.subfunction is None:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, "no sub-function")
        data = entry.handler(request)
        return Response(service, RC.PositiveResponse, data).get_payload()

    def s3_expired(self) -> bool:
        return self.session != DEFAULT and self._clock() - self.last_request > self.profile.timing.s3

    def leave_session(self) -> bool:
        """Back to the default session (S3 timeout); True when the ECU must reset to do so."""
        must_reset = self._resets_to_default()
        self._set_session(DEFAULT)
        return must_reset

    def _resets_to_default(self) -> bool:
        """The bootloader leaves any non-default session by a reset, so that it decides again
        what runs: a valid application starts, as it does at power-on."""
        return self.boot.running.mode == BootMode.BOOTLOADER and self.session != DEFAULT

    # -- helpers -------------------------------------------------------------------------

    def _set_session(self, session: int) -> None:
        if session != self.session:
            self.security.relock()
        if session == DEFAULT:  # ISO 14229-1: the default session ends communication and DTC control
            self.communication_control = (0x00, 0x00)
            self.dtc_setting_on = True
        self.session = session

    @property
    def normal_tx_enabled(self) -> bool:
        """False while CommunicationControl disables transmission of normal messages."""
        control, comm_type = self.communication_control
        return not (control in (0x01, 0x03) and comm_type & 0x01)

    @staticmethod
    def _expect_length(request: Request, length: int) -> bytes:
        data = request.data or b""
        if len(data) != length:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"{len(data)} bytes, expected {length}")
        return data

    def _require_unlocked(self) -> None:
        if not self.security.unlocked:
            raise Nrc(RC.SecurityAccessDenied)

    # -- services ------------------------------------------------------------------------

    def _session_control(self, request: Request) -> bytes:
        sub = request.subfunction
        if sub not in ALL_SESSIONS:
            raise Nrc(RC.SubFunctionNotSupported)
        in_app = self.boot.running.mode == BootMode.APPLICATION
        if sub == PROGRAMMING and in_app and self.session != EXTENDED:
            raise Nrc(RC.SubFunctionNotSupportedInActiveSession, "programming session only from extended")
        self._expect_length(request, 0)
        if sub == PROGRAMMING and in_app:
            self.boot.enter_bootloader()  # the application jumps to the bootloader
        elif sub == DEFAULT and self._resets_to_default():
            self._reset_after = True
        self.download.abort_transfer()
        self._set_session(sub)
        t = self.profile.timing
        return bytes([sub]) + struct.pack(">HH", round(t.p2 * 1000), round(t.p2_star * 100))

    def _ecu_reset(self, request: Request) -> bytes:
        if request.subfunction not in (0x01, 0x02, 0x03):
            raise Nrc(RC.SubFunctionNotSupported)
        self._expect_length(request, 0)
        self._reset_after = True
        return bytes([request.subfunction])

    def _tester_present(self, request: Request) -> bytes:
        if request.subfunction != 0x00:
            raise Nrc(RC.SubFunctionNotSupported)
        self._expect_length(request, 0)
        return b"\x00"

    def _security_access(self, request: Request) -> bytes:
        sub = request.subfunction
        return bytes([sub]) + self.security.handle(sub, request.data or b"")

    def _communication_control(self, request: Request) -> bytes:
        if request.subfunction not in (0x00, 0x01, 0x02, 0x03):
            raise Nrc(RC.SubFunctionNotSupported)
        comm_type = self._expect_length(request, 1)[0]
        if comm_type & 0x03 not in COMMUNICATION_TYPES or comm_type & 0x0C or comm_type >> 4 not in SUBNETS:
            raise Nrc(RC.RequestOutOfRange, f"communicationType {comm_type:#04x} not supported")
        self.communication_control = (request.subfunction, comm_type)
        return bytes([request.subfunction])

    def _control_dtc_setting(self, request: Request) -> bytes:
        if request.subfunction not in (0x01, 0x02):
            raise Nrc(RC.SubFunctionNotSupported)
        self.dtc_setting_on = request.subfunction == 0x01
        return bytes([request.subfunction])

    def _read_did(self, request: Request) -> bytes:
        data = request.data or b""
        if not data or len(data) % 2:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        out = b""
        for (did,) in struct.iter_unpack(">H", data):
            try:
                out += struct.pack(">H", did) + self._did_value(did)
            except Nrc as nrc:  # ISO 14229-1: unsupported DIDs are left out, 0x31 only if none is
                if nrc.code != RC.RequestOutOfRange:
                    raise
        if not out:
            raise Nrc(RC.RequestOutOfRange, "none of the requested DIDs is supported")
        return out

    def _did_value(self, did: int) -> bytes:
        dids = self.profile.dids
        running = self.boot.running
        if did == dids.version:
            version = running.version if running.mode == BootMode.APPLICATION else self.boot.installed_version()
            if version is None:
                raise Nrc(RC.ConditionsNotCorrect, "no valid application")
            return version.encode("ascii")
        if did == dids.boot_state:
            return BootStatus(running.mode, running.bank, running.state, self.store.record.boot_attempts).pack()
        if did == dids.journal:
            return self.store.record.journal.pack()
        if did == dids.image_digest:
            bank = running.bank if running.mode == BootMode.APPLICATION else self.store.record.active_bank
            digest = self.boot.installed_digest(bank)
            if digest is None:
                raise Nrc(RC.ConditionsNotCorrect, "no valid application")
            return digest
        if did == dids.fingerprint:  # fixed length; zeros until a tester writes it
            record = bytes.fromhex(self.store.record.fingerprint)
            return record.ljust(self.fingerprint_length, b"\0")[:self.fingerprint_length]
        return self._identification(did)

    def _identification(self, did: int) -> bytes:
        """An identification DID of the profile (bootloader version, hardware number...): the ECU's
        name and the field's; 0x31 for any other DID."""
        for field, ident in self.profile.dids.identification.items():
            if did == ident:
                return f"{self.name.upper()}-{field.upper()}".encode("ascii")
        raise Nrc(RC.RequestOutOfRange, f"DID {did:#06x} not supported")

    def _write_did(self, request: Request) -> bytes:
        data = request.data or b""
        if len(data) < 3:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        (did,) = struct.unpack(">H", data[:2])
        if did != self.profile.dids.fingerprint or self.session != PROGRAMMING:
            raise Nrc(RC.RequestOutOfRange, f"DID {did:#06x} not writable in this session")
        self._require_unlocked()
        if len(data) - 2 != self.fingerprint_length:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat,
                      f"fingerprint record of {len(data) - 2} bytes, the DID holds {self.fingerprint_length}")
        self.store.record.fingerprint = data[2:].hex()
        self.store.save()
        return data[:2]
