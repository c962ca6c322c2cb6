"""A campaign manifest's Ed25519 signature, signed and checked as the images' headers are
(``bench.image.signing``: the same key files, key ids and checks).

The signature is detached, beside the manifest: ``campaign.yaml.sig`` holds one line,
``ed25519 <key id, hex> <signature, hex>``, over the manifest file's exact bytes, so no
re-serialisation can change what was signed.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bench.image.signing import SignatureError, key_id, verify_signed

SCHEME = "ed25519"


def signature_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".sig")


def sign_manifest(manifest: Path, private_key: Ed25519PrivateKey) -> Path:
    """Write the detached signature of the manifest file; returns its path."""
    signature = private_key.sign(manifest.read_bytes())
    path = signature_path(manifest)
    path.write_text(f"{SCHEME} {key_id(private_key.public_key()).hex()} {signature.hex()}\n")
    return path


def verify_manifest(text: bytes, signature_line: str, public_key: Ed25519PublicKey) -> None:
    """``SignatureError`` unless ``text`` bears the signature of ``signature_line`` by ``public_key``."""
    parts = signature_line.split()
    try:
        scheme, signer, signature = parts[0], bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except (IndexError, ValueError):
        raise SignatureError("malformed signature: expected 'ed25519 <key id> <signature>' in hex") from None
    if scheme != SCHEME or len(parts) != 3:
        raise SignatureError(f"malformed signature: expected one '{SCHEME} <key id> <signature>' line")
    verify_signed(signer, signature, text, public_key, what="manifest")
