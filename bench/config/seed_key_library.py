"""Seed-key shared libraries (an OEM's seed-key DLL, or its ``.so`` build), loaded with ctypes.

The ABI is the one Vector's tools load (``KeyGenAlgoInterfaceEx.h``)::

    VKeyGenResultEx GenerateKeyEx(const unsigned char* seed, unsigned int seedSize,
                                  const unsigned int securityLevel, const char* variant,
                                  unsigned char* key, unsigned int maxKeySize, unsigned int& keySize);
    VKeyGenResultExOpt GenerateKeyExOpt(const unsigned char* seed, unsigned int seedSize,
                                        const unsigned int securityLevel, const char* variant,
                                        const char* options, unsigned char* key,
                                        unsigned int maxKeySize, unsigned int& keySize);

``unsigned int&`` is a pointer at the ABI level. Both return 0 on success; 1 the key buffer is too
small, 2 the security level is invalid, 3 the variant is invalid, 4 an unspecified error. The
functions are C (``extern "C"``, cdecl). ``GenerateKeyExOpt`` is used when the profile gives
``key_options``, ``GenerateKeyEx`` otherwise.

A library that refuses is a problem of the bench's configuration (wrong library, level, variant
or buffer size), never a finding about the ECU: it raises ``SeedKeyLibraryError``, a ConfigError
naming the library, the level and what the code means.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.errors import ConfigError

KeyFunction = Callable[..., bytes]

RESULT_MEANINGS = {
    0: "KGRE_Ok",
    1: "KGRE_BufferToSmall: the key does not fit the buffer the bench gives (raise security.key_buffer_size)",
    2: "KGRE_SecurityLevelInvalid: the library has no algorithm for this security level",
    3: "KGRE_VariantInvalid: the library does not know this variant (security.key_variant)",
    4: "KGRE_UnspecifiedError: the library failed without saying why",
}
_OK = 0


class SeedKeyLibraryError(ConfigError):
    """A seed-key library could not be loaded, lacks the functions, or refused to make a key;
    ``reason`` is the message without the library's path."""

    def __init__(self, reason: str, *, library: str) -> None:
        self.reason = reason
        super().__init__(reason, file=library, field="security.key_library")


def load_key_library(path: Path, *, variant: str = "", options: str | None = None,
                     buffer_size: int = 256) -> KeyFunction:
    """A key function with udsoncan's signature ``(level, seed, params) -> key`` that calls the
    library's ``GenerateKeyEx`` (``GenerateKeyExOpt`` when ``options`` is given)."""
    file = str(path)
    try:
        library = ctypes.CDLL(file)
    except OSError as exc:
        raise SeedKeyLibraryError(f"cannot load the seed-key library: {exc}", library=file) from None
    name = "GenerateKeyEx" if options is None else "GenerateKeyExOpt"
    try:
        generate = getattr(library, name)
    except AttributeError:
        raise SeedKeyLibraryError(f"the library does not export {name} (the seed-key DLL interface "
                                  f"{'with' if options is not None else 'without'} key_options)",
                                  library=file) from None
    uint, text, byte_array = ctypes.c_uint, ctypes.c_char_p, ctypes.POINTER(ctypes.c_ubyte)
    middle = [text] if options is None else [text, text]
    generate.argtypes = [byte_array, uint, uint, *middle, byte_array, uint, ctypes.POINTER(uint)]
    generate.restype = ctypes.c_int
    encoded_variant = variant.encode()
    extra = [encoded_variant] if options is None else [encoded_variant, options.encode()]

    def key_from_library(level: int, seed: bytes, params: Mapping[str, object] | None = None) -> bytes:
        seed_buffer = (ctypes.c_ubyte * max(len(seed), 1)).from_buffer_copy(seed.ljust(1, b"\0"))
        key_buffer = (ctypes.c_ubyte * buffer_size)()
        key_size = uint(0)
        code = generate(seed_buffer, len(seed), level, *extra, key_buffer, buffer_size, ctypes.byref(key_size))
        where = f"{name} for security level {level:#04x} (seed {seed.hex() or 'empty'})"
        if code != _OK:
            meaning = RESULT_MEANINGS.get(code, "not a code of the seed-key DLL interface")
            raise SeedKeyLibraryError(f"{where} returned {code} ({meaning})", library=file)
        if key_size.value > buffer_size:
            raise SeedKeyLibraryError(f"{where} says it wrote a key of {key_size.value} bytes into a buffer "
                                      f"of {buffer_size}: the library overran the buffer", library=file)
        return bytes(key_buffer[:key_size.value])

    return key_from_library
