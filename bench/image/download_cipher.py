"""Encryption of a download, the low nibble of RequestDownload's dataFormatIdentifier (ISO 14229-1
14.2): the method number is the OEM's; what it stands for is in the flash specification
(``bench.config.flash_spec.Download``: ``encryption``, ``cipher``, ``key``, ``nonce``).

One cipher: AES-128 in counter mode (NIST SP 800-38A), the tester encrypting after compressing and
the ECU decrypting before decompressing. A stream cipher keeps the data's length, so memorySize,
block boundaries and a repeated TransferData are what they are without encryption; the initial
counter block (``nonce``) is the specification's, as in flash sequences that fix it per project.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

AES_128_CTR = "aes-128-ctr"
KEY_BYTES = NONCE_BYTES = 16


def encrypt(data: bytes, key: bytes, nonce: bytes) -> bytes:
    """``data`` as the tester sends it."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decryptor(key: bytes, nonce: bytes) -> CipherContext:
    """What the ECU feeds each TransferData's bytes through, in order."""
    return Cipher(algorithms.AES(key), modes.CTR(nonce)).decryptor()
