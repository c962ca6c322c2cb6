"""Ed25519 signing and verification of firmware images, and PEM key loading."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bench.errors import ConfigError
from bench.image.format import KEY_ID_SIZE, SIGNATURE_SIZE, FirmwareImage, ImageHeader


class SignatureError(Exception):
    """The image is not the one its header describes, or not signed by the trusted key.

    The message starts with the reason: ``payload length mismatch``, ``payload digest mismatch``,
    ``unknown key id`` or ``bad signature``.
    """


def _read_pem(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted PEM (PKCS#8) Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(_read_pem(path, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not an unencrypted PEM private key: {exc}", file=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"signing key is {type(key).__name__}, expected Ed25519", file=str(path))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM (SubjectPublicKeyInfo) Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(_read_pem(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not a PEM public key: {exc}", file=str(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"public key is {type(key).__name__}, expected Ed25519", file=str(path))
    return key


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """First 8 bytes of SHA-256 of the raw 32-byte public key."""
    return _key_id(_raw(public_key))


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()[:KEY_ID_SIZE]


def sign_image(payload: bytes, *, version: str, security_version: int,
               private_key: Ed25519PrivateKey) -> FirmwareImage:
    unsigned = ImageHeader(
        version=version,
        security_version=security_version,
        payload_length=len(payload),
        payload_sha256=hashlib.sha256(payload).digest(),
        key_id=key_id(private_key.public_key()),
        signature=bytes(SIGNATURE_SIZE),
    )
    signature = private_key.sign(unsigned.signed_bytes())
    return FirmwareImage(replace(unsigned, signature=signature), bytes(payload))


def verify_image(header: ImageHeader, payload: bytes, public_key: Ed25519PublicKey) -> None:
    """Raise ``SignatureError`` unless ``payload`` is exactly what ``header`` signs with ``public_key``."""
    if len(payload) != header.payload_length:
        raise SignatureError(
            f"payload length mismatch: header says {header.payload_length} bytes, got {len(payload)}")
    if hashlib.sha256(payload).digest() != header.payload_sha256:
        raise SignatureError("payload digest mismatch: SHA-256 of the payload differs from the header")
    verify_signed(header.key_id, header.signature, header.signed_bytes(), public_key, what="header")


def verify_signed(signer: bytes, signature: bytes, signed: bytes, public_key: Ed25519PublicKey, *, what: str) -> None:
    """``SignatureError`` unless ``signed`` bears ``signature`` by ``public_key``, whose key id
    the ``what`` (a header) names as ``signer``."""
    raw = _raw(public_key)
    trusted = _key_id(raw)
    if signer != trusted:
        raise SignatureError(f"unknown key id {signer.hex()} (trusted: {trusted.hex()})")
    checked = (raw, signature, signed)
    if checked in _verified:
        return
    try:
        public_key.verify(signature, signed)
    except InvalidSignature:
        raise SignatureError(f"bad signature: the {what} was not signed by the trusted key") from None
    with _verified_lock:
        if len(_verified) >= VERIFIED_KEPT:
            _verified.pop(next(iter(_verified)))
        _verified[checked] = None


VERIFIED_KEPT = 64
"""Good signatures remembered per process: a virtual ECU verifies the same header at every boot
and every check of a bank, and an Ed25519 verification costs about 0.1 ms of CPU."""
_verified: dict[tuple[bytes, bytes, bytes], None] = {}
"""(raw public key, signature, signed bytes) that verified: the same three always verify again."""
_verified_lock = threading.Lock()
