"""Reading an ECU's identity and state over UDS: version, boot state, download journal."""

from __future__ import annotations

import time

from udsoncan.client import Client
from udsoncan.exceptions import NegativeResponseException, TimeoutException

from bench.config.models import EcuProfile
from bench.dids import BootStatus, DownloadJournal


class EcuDiagnostics:
    def __init__(self, client: Client, profile: EcuProfile) -> None:
        self.client = client
        self.profile = profile

    def read_did(self, did: int) -> bytes:
        response = self.client.read_data_by_identifier(did)
        return response.service_data.values[did]

    def read_version(self) -> str | None:
        """The application version, or None while no valid application exists (NRC 0x22)."""
        try:
            return self.read_did(self.profile.dids.version).decode("ascii")
        except NegativeResponseException as exc:
            if exc.response.code == 0x22:
                return None
            raise

    def read_boot_status(self) -> BootStatus:
        return BootStatus.parse(self.read_did(self.profile.dids.boot_state))

    def read_journal(self) -> DownloadJournal:
        return DownloadJournal.parse(self.read_did(self.profile.dids.journal))

    def wait_responsive(self, within: float) -> float:
        """Poll TesterPresent until the ECU answers; seconds it took. TimeoutException past ``within``."""
        start = time.monotonic()
        while True:
            try:
                self.client.tester_present()
                return time.monotonic() - start
            except TimeoutException:
                self.client.conn.empty_txqueue()
                if time.monotonic() - start > within:
                    raise
