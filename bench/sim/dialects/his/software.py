"""What a HIS-style ECU's software says about itself, at fixed places of its logical blocks.

Every logical block starts with a 16-byte software identification: the application version in
ASCII, padded with NUL bytes. In block 0 (the application) it is the version the application
reports in DID 0xF195; in every other block (calibration data...) it is the application version
the block was built for, which the check of programming dependencies (0xFF01) compares.
"""

from __future__ import annotations

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
