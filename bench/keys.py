"""SecurityAccess key functions: ``(level, seed, params) -> key``, udsoncan's signature.

A profile names one by dotted path (``bench.keys:xor_key``); an OEM plugs in its own the same
way. The virtual ECU computes the expected key with the same function, as a real ECU and its
tester share the OEM algorithm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def xor_key(level: int, seed: bytes, params: Mapping[str, object] | None = None) -> bytes:
    """Development algorithm: each seed byte XOR a byte of ``secret`` (an int, default 0x5A3C7E11)."""
    secret = int((params or {}).get("secret", 0x5A3C7E11))  # type: ignore[arg-type]
    mask = secret.to_bytes(4, "big")
    return bytes(b ^ mask[i % 4] ^ level for i, b in enumerate(seed))


def sha256_key(level: int, seed: bytes, params: Mapping[str, object] | None = None) -> bytes:
    """A stronger stand-in: first 16 bytes of SHA-256(secret || level || seed)."""
    secret = str((params or {}).get("secret", "ota-hil-bench-dev")).encode()
    return hashlib.sha256(secret + bytes([level]) + seed).digest()[:16]
