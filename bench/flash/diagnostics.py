"""Reading an ECU's identity and state over UDS: version, installed image, boot state, download journal."""

from __future__ import annotations

import struct
import time

from udsoncan import Request, services
from udsoncan.client import Client
from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from bench.config.models import EcuProfile
from bench.dids import BootStatus, DownloadJournal


class EcuDiagnostics:
    def __init__(self, client: Client, profile: EcuProfile) -> None:
        self.client = client
        self.profile = profile
        self.versions_read: set[str] = set()
        """Every application version the ECU reported to this reader (evidence for reports)."""

    def read_did(self, did: int) -> bytes:
        """The DID's value. The late answer of an earlier exchange (after a timeout), taken by
        udsoncan for this one's, is dropped and the DID asked once more."""
        try:
            response = self.client.read_data_by_identifier(did)
        except UnexpectedResponseException:
            self.client.conn.empty_rxqueue()
            response = self.client.read_data_by_identifier(did)
        return response.service_data.values[did]

    def read_version(self) -> str | None:
        """The application version, or None while no valid application exists (NRC 0x22)."""
        try:
            version = self.read_did(self.profile.dids.version).decode("ascii")
        except NegativeResponseException as exc:
            if exc.response.code == 0x22:
                return None
            raise
        self.versions_read.add(version)
        return version

    def read_image_digest(self) -> bytes | None:
        """SHA-256 of the installed image (the base a delta package names), or None while no valid
        application exists (NRC 0x22). Read raw: it is one fixed-size value, no codec needed."""
        did = self.profile.dids.image_digest
        try:
            response = self.client.send_request(Request(services.ReadDataByIdentifier, data=struct.pack(">H", did)))
        except NegativeResponseException as exc:
            if exc.response.code == 0x22:
                return None
            raise
        assert response is not None  # no suppressPosMsgIndication on 0x22
        if response.data[:2] != struct.pack(">H", did) or len(response.data) != 2 + 32:
            raise InvalidResponseException(response, f"DID {did:#06x}: expected the DID and a 32-byte SHA-256")
        return bytes(response.data[2:])

    def read_boot_status(self) -> BootStatus:
        return BootStatus.parse(self.read_did(self.profile.dids.boot_state))

    def read_boot_status_if_kept(self) -> BootStatus | None:
        """The boot status, or None from an ECU that keeps none: one whose bootloader is not the bench's
        answers its DID (0xFD02) with 0x31 requestOutOfRange, as ISO 14229-1 says of an unsupported DID."""
        try:
            return self.read_boot_status()
        except NegativeResponseException as exc:
            if exc.response.code == 0x31:
                return None
            raise

    def read_journal(self) -> DownloadJournal:
        return DownloadJournal.parse(self.read_did(self.profile.dids.journal))

    def describe(self) -> str:
        """What the ECU reports about itself, one line, for failure messages and reports: version,
        mode, bank, boot state, unconfirmed starts, journal (when the ECU's flash specification resumes
        from one). Never raises."""
        try:
            version = self.read_version()
            status = self.read_boot_status_if_kept()
            journal = self.read_journal() if self.profile.flash_spec.takes_images else None
        except Exception as exc:  # noqa: BLE001 - a silent or broken ECU must still be described
            return f"ECU state unreadable ({type(exc).__name__}: {exc})"
        if status is None:
            return f"ECU state: version {version or 'none (no valid application)'}, no boot status DID"
        return (f"ECU state: version {version or 'none'}, {status.mode.name.lower()}, bank {status.bank_name}, "
                f"{status.state.name.lower()}, {status.boot_attempts} unconfirmed start(s), "
                + (f"journal {journal.committed:#x}/{journal.total_length:#x}" if journal else "no journal"))

    def wait_responsive(self, within: float) -> float:
        """Poll TesterPresent until the ECU answers; seconds it took. TimeoutException past ``within``.
        A late answer to an earlier request (after a failed attempt) is dropped, not taken for it."""
        start = time.monotonic()
        while True:
            try:
                self.client.tester_present()
                return time.monotonic() - start
            except (TimeoutException, UnexpectedResponseException) as exc:
                self.client.conn.empty_txqueue()
                self.client.conn.empty_rxqueue()
                if time.monotonic() - start > within:
                    if isinstance(exc, TimeoutException):
                        raise
                    raise TimeoutException(f"no answer to TesterPresent within {within} s (last: {exc})") from exc


def version_text(version: str | None) -> str:
    """A version read from an ECU, for people: ``version 2.0.0``, or ``no application`` (None:
    no valid application runs, the ECU waits in its bootloader)."""
    return f"version {version}" if version else "no application"
