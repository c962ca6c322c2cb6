"""SecurityAccess key functions: ``(level, seed, params) -> key``, udsoncan's signature.

A profile names one by dotted path (``bench.keys:xor_key``); an OEM plugs in its own the same
way. The virtual ECU computes the expected key with the same function, as a real ECU and its
tester share the OEM algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping


def xor_key(level: int, seed: bytes, params: Mapping[str, object] | None = None) -> bytes:
    """Development algorithm: each seed byte XOR a byte of ``secret`` (an int, default 0x5A3C7E11)."""
    secret = int((params or {}).get("secret", 0x5A3C7E11))  # type: ignore[arg-type]
    mask = secret.to_bytes(4, "big")
    return bytes(b ^ mask[i % 4] ^ level for i, b in enumerate(seed))
