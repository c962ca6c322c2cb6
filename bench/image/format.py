"""The firmware image an ECU receives: a fixed 256-byte signed header, then the payload.

Header layout (integers big-endian, unused bytes zero)::

    offset  size  field
         0     8  magic b"OTAIMG01"
         8    24  version, ASCII, NUL-padded
        32     4  security_version (anti-rollback counter)
        36     4  payload_length
        40    32  payload_sha256
        72     8  key_id (first 8 bytes of SHA-256 of the raw Ed25519 public key)
        80   112  reserved, zero
       192    64  Ed25519 signature over bytes 0..191 (``signed_bytes``)

The payload starts with a 64-byte application descriptor: what the simulated application does
when it runs (magic b"OTAAPP01", one status byte, zero padding).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import ClassVar

HEADER_SIZE = 256
HEADER_MAGIC = b"OTAIMG01"
VERSION_SIZE = 24
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 8
_SIGNED_SIZE = HEADER_SIZE - SIGNATURE_SIZE
_FIELDS = struct.Struct(f">8s{VERSION_SIZE}sII32s{KEY_ID_SIZE}s")

APP_MAGIC = b"OTAAPP01"
_SELF_TEST_FAILS, _SELF_TEST_PASSES = 0, 1


class ImageFormatError(Exception):
    """Bytes that are not an image of this format: bad magic, truncated, length mismatch."""


@dataclass(frozen=True)
class AppDescriptor:
    """First 64 bytes of the payload: how the simulated application behaves when started."""

    self_test_passes: bool = True
    SIZE: ClassVar[int] = 64

    def pack(self) -> bytes:
        status = _SELF_TEST_PASSES if self.self_test_passes else _SELF_TEST_FAILS
        return (APP_MAGIC + bytes([status])).ljust(self.SIZE, b"\0")

    @classmethod
    def parse(cls, raw: bytes) -> AppDescriptor:
        if len(raw) < cls.SIZE:
            raise ImageFormatError(f"application descriptor truncated: {len(raw)} of {cls.SIZE} bytes")
        if raw[:len(APP_MAGIC)] != APP_MAGIC:
            raise ImageFormatError(f"bad application descriptor magic {raw[:len(APP_MAGIC)]!r}")
        status = raw[len(APP_MAGIC)]
        if status not in (_SELF_TEST_PASSES, _SELF_TEST_FAILS):
            raise ImageFormatError(f"unknown application self-test status {status:#04x}")
        if any(raw[len(APP_MAGIC) + 1:cls.SIZE]):
            raise ImageFormatError("application descriptor reserved bytes are not zero")
        return cls(self_test_passes=status == _SELF_TEST_PASSES)


@dataclass(frozen=True)
class ImageHeader:
    version: str
    security_version: int
    payload_length: int
    payload_sha256: bytes
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not self.version or len(self.version) > VERSION_SIZE or not self.version.isascii() \
                or "\0" in self.version:
            raise ImageFormatError(f"version {self.version!r} is not 1..{VERSION_SIZE} ASCII characters")
        for name in ("security_version", "payload_length"):
            if not 0 <= getattr(self, name) <= 0xFFFF_FFFF:
                raise ImageFormatError(f"{name} {getattr(self, name)} does not fit 32 bits")
        for name, size in (("payload_sha256", 32), ("key_id", KEY_ID_SIZE), ("signature", SIGNATURE_SIZE)):
            if len(getattr(self, name)) != size:
                raise ImageFormatError(f"{name} must be {size} bytes, got {len(getattr(self, name))}")

    def signed_bytes(self) -> bytes:
        """The packed header up to the signature: what the signature covers."""
        fields = _FIELDS.pack(HEADER_MAGIC, self.version.encode("ascii"), self.security_version,
                              self.payload_length, self.payload_sha256, self.key_id)
        return fields.ljust(_SIGNED_SIZE, b"\0")

    def pack(self) -> bytes:
        return self.signed_bytes() + self.signature

    @classmethod
    def parse(cls, raw: bytes) -> ImageHeader:
        """Read a header from the first ``HEADER_SIZE`` bytes of ``raw``."""
        if len(raw) < HEADER_SIZE:
            raise ImageFormatError(f"image header truncated: {len(raw)} of {HEADER_SIZE} bytes")
        magic, version, security_version, payload_length, digest, key_id = _FIELDS.unpack_from(raw)
        if magic != HEADER_MAGIC:
            raise ImageFormatError(f"bad image magic {magic!r}, expected {HEADER_MAGIC!r}")
        if any(raw[_FIELDS.size:_SIGNED_SIZE]):
            raise ImageFormatError("image header reserved bytes are not zero")
        text = version.rstrip(b"\0")
        if b"\0" in text:
            raise ImageFormatError(f"malformed version field {version!r}")
        try:
            decoded = text.decode("ascii")
        except UnicodeDecodeError:
            raise ImageFormatError(f"version {text!r} is not ASCII") from None
        return cls(decoded, security_version, payload_length, digest, key_id,
                   bytes(raw[_SIGNED_SIZE:HEADER_SIZE]))


@dataclass(frozen=True)
class FirmwareImage:
    header: ImageHeader
    payload: bytes

    def to_bytes(self) -> bytes:
        return self.header.pack() + self.payload

    @classmethod
    def from_bytes(cls, raw: bytes) -> FirmwareImage:
        header = ImageHeader.parse(raw)
        payload = bytes(raw[HEADER_SIZE:])
        if len(payload) != header.payload_length:
            raise ImageFormatError(
                f"payload length mismatch: header says {header.payload_length} bytes, got {len(payload)}")
        return cls(header, payload)

    @property
    def header_digest(self) -> bytes:
        """SHA-256 of the packed header: identifies the image in the ECU's download journal."""
        return hashlib.sha256(self.header.pack()).digest()

    @property
    def digest(self) -> bytes:
        """SHA-256 of the whole image, header and payload: what a delta package names as its base
        or target (``bench.image.delta``)."""
        return hashlib.sha256(self.to_bytes()).digest()

    @property
    def app(self) -> AppDescriptor:
        return AppDescriptor.parse(self.payload[:AppDescriptor.SIZE])
