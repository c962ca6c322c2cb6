"""Delta packages: a signed header naming the exact base and target images, then a detools patch.

The ECU rebuilds the target image from the base image it holds. detools makes the patch:
*sequential* (A/B ECUs: read the base from the active bank, write the target into the other
one) or *in-place* (single-bank ECUs: the target overwrites the base in the same memory,
segment by segment; ``memory_size`` is the ECU's application region and ``segment_size`` a
multiple of its flash sector). Images are patched whole, header included, so the patched bank
holds the target image with its own signature and secure boot checks it as usual.

Header layout (integers big-endian, unused bytes zero)::

    offset  size  field
         0     8  magic b"OTADLT01"
         8    24  target version, ASCII, NUL-padded
        32     4  target security_version (anti-rollback counter)
        36     4  patch_length
        40    32  patch_sha256
        72     8  key_id (as in images)
        80    24  base version, ASCII, NUL-padded
       104    32  base digest: SHA-256 of the whole base image (header and payload)
       136     4  base length
       140    32  target digest: SHA-256 of the whole target image
       172     4  target length
       176     1  patch type: 0 sequential, 1 in-place
       177    15  reserved, zero
       192    64  Ed25519 signature over bytes 0..191
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import detools
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bench.errors import ConfigError
from bench.image.format import (HEADER_SIZE, KEY_ID_SIZE, SIGNATURE_SIZE, VERSION_SIZE, FirmwareImage,
                                ImageFormatError)
from bench.image.signing import SignatureError, key_id, verify_signed

if TYPE_CHECKING:
    from bench.config.models import EcuProfile

DELTA_MAGIC = b"OTADLT01"
PatchType = Literal["sequential", "in-place"]
PATCH_TYPES: tuple[PatchType, ...] = ("sequential", "in-place")
_SIGNED_SIZE = HEADER_SIZE - SIGNATURE_SIZE
_FIELDS = struct.Struct(f">8s{VERSION_SIZE}sII32s{KEY_ID_SIZE}s{VERSION_SIZE}s32sI32sIB")


@dataclass(frozen=True)
class PatchLayout:
    """How the patch is cut for the ECU that applies it (see ``for_profile``)."""

    patch_type: PatchType = "sequential"
    compression: str = "heatshrink"
    """A detools compression; heatshrink decodes in a few hundred bytes of RAM, as MCUs need."""
    memory_size: int = 0
    """In-place only: bytes of the memory the patch works in (the ECU's application region)."""
    segment_size: int = 0
    """In-place only: bytes rewritten per patch segment (a multiple of the flash sector)."""

    @classmethod
    def for_profile(cls, profile: EcuProfile) -> PatchLayout:
        """The layout an ECU of ``profile`` applies: in-place on single bank, sequential on A/B."""
        if profile.delta is None:
            raise ConfigError("this ECU profile takes no delta packages (it has no 'delta:' section)",
                              field="delta")
        if profile.bootloader == "ab":
            return cls("sequential", profile.delta.compression)
        return cls("in-place", profile.delta.compression, profile.memory.size, profile.delta.segment_size)


@dataclass(frozen=True)
class DeltaHeader:
    version: str
    security_version: int
    patch_length: int
    patch_sha256: bytes
    key_id: bytes
    base_version: str
    base_digest: bytes
    base_length: int
    target_digest: bytes
    target_length: int
    patch_type: PatchType
    signature: bytes

    def signed_bytes(self) -> bytes:
        fields = _FIELDS.pack(DELTA_MAGIC, self.version.encode("ascii"), self.security_version, self.patch_length,
                              self.patch_sha256, self.key_id, self.base_version.encode("ascii"), self.base_digest,
                              self.base_length, self.target_digest, self.target_length,
                              PATCH_TYPES.index(self.patch_type))
        return fields.ljust(_SIGNED_SIZE, b"\0")

    def pack(self) -> bytes:
        return self.signed_bytes() + self.signature

    @classmethod
    def parse(cls, raw: bytes) -> DeltaHeader:
        """Read a header from the first ``HEADER_SIZE`` bytes of ``raw``."""
        if len(raw) < HEADER_SIZE:
            raise ImageFormatError(f"delta package header truncated: {len(raw)} of {HEADER_SIZE} bytes")
        (magic, version, security_version, patch_length, patch_sha256, key, base_version, base_digest,
         base_length, target_digest, target_length, patch_type) = _FIELDS.unpack_from(raw)
        if magic != DELTA_MAGIC:
            raise ImageFormatError(f"bad delta package magic {magic!r}, expected {DELTA_MAGIC!r}")
        if any(raw[_FIELDS.size:_SIGNED_SIZE]):
            raise ImageFormatError("delta package header reserved bytes are not zero")
        if patch_type >= len(PATCH_TYPES):
            raise ImageFormatError(f"unknown patch type {patch_type}")
        return cls(_version(version), security_version, patch_length, patch_sha256, key, _version(base_version),
                   base_digest, base_length, target_digest, target_length, PATCH_TYPES[patch_type],
                   bytes(raw[_SIGNED_SIZE:HEADER_SIZE]))


def _version(field: bytes) -> str:
    text = field.rstrip(b"\0")
    if not text or b"\0" in text or not text.isascii():
        raise ImageFormatError(f"malformed version field {field!r}")
    return text.decode("ascii")


@dataclass(frozen=True)
class DeltaPackage:
    header: DeltaHeader
    patch: bytes

    def to_bytes(self) -> bytes:
        return self.header.pack() + self.patch

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeltaPackage:
        header = DeltaHeader.parse(raw)
        patch = bytes(raw[HEADER_SIZE:])
        if len(patch) != header.patch_length:
            raise ImageFormatError(f"delta package truncated or padded: header says {header.patch_length} "
                                   f"patch bytes, got {len(patch)}")
        return cls(header, patch)

    @property
    def header_digest(self) -> bytes:
        """SHA-256 of the packed header: identifies the package in the ECU's download journal."""
        return hashlib.sha256(self.header.pack()).digest()

    def applies_to(self, digest: bytes) -> bool:
        return digest == self.header.base_digest

    def describe(self) -> str:
        h = self.header
        return (f"{h.base_version} ({h.base_digest.hex()[:12]}) -> {h.version} ({h.target_digest.hex()[:12]}), "
                f"{h.patch_type} patch of {h.patch_length} B")


def create_delta_package(base: FirmwareImage, target: FirmwareImage, *, private_key: Ed25519PrivateKey,
                         layout: PatchLayout) -> DeltaPackage:
    """The package that turns ``base`` into ``target`` on an ECU applying ``layout``, signed."""
    old, new = base.to_bytes(), target.to_bytes()
    if layout.patch_type == "in-place" and len(old) > layout.memory_size - 2 * layout.segment_size:
        raise ConfigError(f"base image of {len(old)} B leaves less than two {layout.segment_size} B segments "
                               f"free in the {layout.memory_size} B memory an in-place patch needs")
    patch = io.BytesIO()
    options = {"memory_size": layout.memory_size, "segment_size": layout.segment_size} \
        if layout.patch_type == "in-place" else {}
    try:
        detools.create_patch(io.BytesIO(old), io.BytesIO(new), patch, compression=layout.compression,
                             patch_type=layout.patch_type, **options)
    except detools.Error as exc:
        raise ConfigError(f"detools cannot make this patch ({layout}): {exc}") from None
    data = patch.getvalue()
    unsigned = DeltaHeader(
        version=target.header.version, security_version=target.header.security_version, patch_length=len(data),
        patch_sha256=hashlib.sha256(data).digest(), key_id=key_id(private_key.public_key()),
        base_version=base.header.version, base_digest=base.digest, base_length=len(old),
        target_digest=target.digest, target_length=len(new), patch_type=layout.patch_type,
        signature=bytes(SIGNATURE_SIZE))
    return DeltaPackage(replace(unsigned, signature=private_key.sign(unsigned.signed_bytes())), data)


def check_delta_signature(header: DeltaHeader, public_key: Ed25519PublicKey) -> None:
    """SignatureError unless ``header`` is signed by ``public_key`` (before the patch is there)."""
    verify_signed(header.key_id, header.signature, header.signed_bytes(), public_key, what="delta header")


def verify_delta(header: DeltaHeader, patch: bytes, public_key: Ed25519PublicKey) -> None:
    """SignatureError unless ``patch`` is exactly what ``header`` signs with ``public_key``."""
    if len(patch) != header.patch_length:
        raise SignatureError(f"patch length mismatch: header says {header.patch_length} bytes, got {len(patch)}")
    if hashlib.sha256(patch).digest() != header.patch_sha256:
        raise SignatureError("patch digest mismatch: SHA-256 of the patch differs from the header")
    check_delta_signature(header, public_key)
