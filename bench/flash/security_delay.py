"""SecurityAccess as an OEM flash tool does it: waiting out the ECU's security delay timer first.

ISO 14229-1 has a server answer requestSeed with 0x37 requiredTimeDelayNotExpired while its delay timer
runs: after too many wrong keys, and in many bootloaders after every start (power on, reset) against
brute force, so a flash that follows a power cut or a reset within that time meets it without any key
having been wrong. The tester repeats requestSeed after the session's P2 until the timer has run out,
for at most the profile's ``security.lockout_delay`` (the longest the ECU's timer runs); past that the
0x37 stands.

Every SecurityAccess of the flash layer goes through ``security_access`` (the image flasher, the flash
specification's steps, the bank switch). The UDS client itself does not wait (``bench.transport``):
a test of the ECU's lockout sends requestSeed through it and must see the 0x37. (A request answered
0x21 busyRepeatRequest is repeated by the client for everyone: ``SessionTimedClient.send_request``.)
"""

from __future__ import annotations

import time

from udsoncan.exceptions import NegativeResponseException

from bench.config.seed_key_library import KeyFunction
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


def security_access(client: SessionTimedClient, level: int, *, up_to: float, key_function: KeyFunction | None = None,
                    key_params: object = None) -> str:
    """Unlock ``level`` (the odd requestSeed value; sendKey is ``level + 1``): the seed once the ECU's delay
    timer has run out (``up_to`` seconds at most), then the key of ``key_function`` (udsoncan's
    ``(level, seed, params)``; default the client's ``security_algo`` and ``security_algo_params``, which
    the profile sets). No key for an all-zero seed: ISO 14229-1's already unlocked. What a timeline step
    says of it: the wait and whether it was unlocked already ("" when neither)."""
    seed, waited = request_seed(client, level, up_to=up_to)
    said = [f"after the ECU's security delay timer (0x37 for {waited:.1f} s)"] if waited is not None else []
    if not any(seed):
        return "; ".join([*said, "already unlocked"])
    if key_function is None:
        key_function, key_params = client.config["security_algo"], client.config.get("security_algo_params")
    client.send_key(level + 1, bytes(key_function(level, seed, key_params)))
    return "; ".join(said)
