"""Waiting out an ECU's security delay timer before SecurityAccess, as an OEM flash tool does.

ISO 14229-1 has a server answer requestSeed with 0x37 requiredTimeDelayNotExpired while its delay timer
runs: after too many wrong keys, and in many bootloaders after every start (power on, reset) against
brute force, so a flash that follows a power cut or a reset within that time meets it without any key
having been wrong. The tester repeats requestSeed after the session's P2 until the timer has run out,
for at most the profile's ``security.lockout_delay`` (the longest the ECU's timer runs); past that the
0x37 stands.
"""

from __future__ import annotations

import time

from udsoncan.exceptions import NegativeResponseException

from bench.transport.uds_client import SessionTimedClient

REQUIRED_TIME_DELAY_NOT_EXPIRED = 0x37


def request_seed(client: SessionTimedClient, level: int, up_to: float) -> tuple[bytes, float | None]:
    """The seed of ``level`` once the ECU's security delay timer has run out, and the seconds waited for
    it (None: the ECU gave the seed at once)."""
    started = time.monotonic()
    waited: float | None = None
    while True:
        try:
            return bytes(client.request_seed(level).service_data.seed), waited
        except NegativeResponseException as exc:
            waited = time.monotonic() - started
            if exc.response.code != REQUIRED_TIME_DELAY_NOT_EXPIRED or waited >= up_to:
                raise
        time.sleep(client.server_p2)
