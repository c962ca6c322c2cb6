"""SecurityAccess (0x27) as production ECUs implement it: seed/key, false-attempt counter kept in
EEPROM (a reset does not clear it), and a lockout delay during which requestSeed answers 0x37.
The delay starts again at every power-on while the counter is exhausted."""

from __future__ import annotations

import os
from collections.abc import Callable

from udsoncan.ResponseCode import ResponseCode as RC

from bench.config.models import SecurityConfig
from bench.sim.nrc import Nrc
from bench.sim.record import RecordStore

KeyFunction = Callable[[int, bytes, dict], bytes]
SEED_LENGTH = 4


class SecurityAccess:
    def __init__(self, config: SecurityConfig, key_function: KeyFunction, store: RecordStore,
                 clock: Callable[[], float]) -> None:
        self._config = config
        self._key_function = key_function
        self._store = store
        self._clock = clock
        self._seed: bytes | None = None
        self.unlocked = False
        self._locked_until = clock() + config.lockout_delay if self._exhausted() else 0.0

    def _exhausted(self) -> bool:
        return self._store.record.security_failures >= self._config.max_attempts

    def relock(self) -> None:
        """A session change ends any unlocked state (ISO 14229-1, 9.4)."""
        self.unlocked = False
        self._seed = None

    def handle(self, subfunction: int, data: bytes) -> bytes:
        level = self._config.level
        if subfunction == level:
            return self._request_seed(data)
        if subfunction == level + 1:
            return self._send_key(data)
        raise Nrc(RC.SubFunctionNotSupported, f"security level {subfunction:#x} not supported")

    def _request_seed(self, data: bytes) -> bytes:
        if data:
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat)
        if self._clock() < self._locked_until:
            raise Nrc(RC.RequiredTimeDelayNotExpired)
        if self._exhausted():  # the delay has expired: allow one more attempt
            self._store.record.security_failures = self._config.max_attempts - 1
            self._store.save()
        if self.unlocked:
            return bytes(SEED_LENGTH)  # already unlocked: zero seed
        self._seed = os.urandom(SEED_LENGTH)
        return self._seed

    def _send_key(self, key: bytes) -> bytes:
        """Sequence first (0x24 without a seed, ISO 14229-1 figure 6), then the key's length:
        a key of the wrong length is malformed (0x13), not a false attempt, and keeps the seed."""
        if self._seed is None:
            raise Nrc(RC.RequestSequenceError, "sendKey without requestSeed")
        expected = self._key_function(self._config.level, self._seed, dict(self._config.key_params))
        if len(key) != len(expected):
            raise Nrc(RC.IncorrectMessageLengthOrInvalidFormat, f"key of {len(key)} bytes, expected {len(expected)}")
        self._seed = None
        rec = self._store.record
        if key == expected:
            self.unlocked = True
            if rec.security_failures:
                rec.security_failures = 0
                self._store.save()
            return b""
        rec.security_failures += 1
        self._store.save()
        if self._exhausted():
            self._locked_until = self._clock() + self._config.lockout_delay
            raise Nrc(RC.ExceedNumberOfAttempts)
        raise Nrc(RC.InvalidKey)
