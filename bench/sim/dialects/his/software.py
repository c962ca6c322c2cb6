"""What a HIS-style ECU's software says about itself, at fixed places of its logical blocks.

Every logical block starts with a 16-byte software identification: the application version in
ASCII, padded with NUL bytes. In block 0 (the application) it is the version the application
reports in DID 0xF195; in every other block (calibration data...) it is the application version
the block was built for, which the check of programming dependencies (0xFF01) compares.
"""

from __future__ import annotations

import hashlib

IDENTIFICATION_SIZE = 16


def identification(data: bytes) -> str | None:
    """The version a block's first bytes name; None when they are not a version (erased, torn, garbage)."""
    raw = data[:IDENTIFICATION_SIZE].rstrip(b"\0")
    if not raw or len(data) < IDENTIFICATION_SIZE:
        return None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def identify(version: str) -> bytes:
    """The identification bytes of ``version`` (what a builder of test software writes first)."""
    raw = version.encode("ascii")
    if not 0 < len(raw) <= IDENTIFICATION_SIZE:
        raise ValueError(f"version {version!r} does not fit the {IDENTIFICATION_SIZE}-byte identification")
    return raw.ljust(IDENTIFICATION_SIZE, b"\0")


def build_blocks(version: str, blocks: list[tuple[str, int, int]]) -> list[tuple[int, bytes]]:
    """Test software for a HIS-style ECU, the same bytes every time: for each (name, address,
    length) a block that starts with ``version``'s identification, then code-like filler (half
    of it repeats, so it compresses about as well as real code)."""
    out = []
    for name, address, length in blocks:
        noise = hashlib.shake_256(f"{version}/{name}".encode()).digest(length // 2 + 1)
        body = b"".join(noise[i:i + 16] * 2 for i in range(0, len(noise), 16))
        out.append((address, (identify(version) + body)[:length]))
    return out
