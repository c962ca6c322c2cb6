"""Firmware recipes: small YAML files that build reproducible, signed test images.

A recipe (paths are relative to the recipe file)::

    version: "2.0.0"
    security_version: 2
    size: 65536            # payload bytes, including the 64-byte application descriptor
    self_test: pass        # or fail: the application fails its self test on every boot
    signing_key: ../keys/dev_ed25519.pem
    code_from: "1.0.0"     # optional: the code of that version's firmware ...
    changed_blocks: [12]   # ... except these 256-byte code blocks, new in this version

The same recipe always builds the same bytes. The payload after the descriptor is synthetic
firmware seeded by the version string: a Cortex-M-like vector table, a version banner, then
Thumb-like code (SHAKE-256 of the version, opcode bytes drawn from a small vocabulary) with a
literal pool closing every 256-byte block. Every block differs from every other, so a block
written at the wrong offset always changes the image digest. ``code_from`` makes a small
release of another version (the delta updates' realistic case): its vector table and code, its
own banner, and only ``changed_blocks`` generated from its own version.

``build_delta`` makes the signed delta package between two recipes' images (``bench.image.delta``).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from bench.errors import ConfigError
from bench.image.delta import DeltaPackage, PatchLayout, create_delta_package
from bench.image.format import VERSION_SIZE, AppDescriptor, FirmwareImage
from bench.image.signing import load_private_key, sign_image


@dataclass(frozen=True)
class FirmwareRecipe:
    path: Path
    version: str
    security_version: int
    size: int
    self_test_passes: bool
    signing_key: Path
    code_from: str = ""
    """Version whose synthetic code this firmware shares ("": its own)."""
    changed_blocks: tuple[int, ...] = ()


class _RecipeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=VERSION_SIZE, pattern=r"^[!-~]+$")
    security_version: int = Field(ge=0, le=0xFFFF_FFFF, strict=True)
    size: int = Field(ge=AppDescriptor.SIZE, le=0xFFFF_FFFF, strict=True)
    self_test: Literal["pass", "fail"] = "pass"
    signing_key: Path
    code_from: str = Field("", max_length=VERSION_SIZE, pattern=r"^[!-~]*$")
    changed_blocks: list[Annotated[int, Field(ge=0, strict=True)]] = Field(default_factory=list)

    @field_validator("changed_blocks")
    @classmethod
    def _changes_need_a_base(cls, blocks: list[int], info: ValidationInfo) -> list[int]:
        if blocks and not info.data.get("code_from"):
            raise ValueError("changed_blocks needs code_from (the version whose code is changed)")
        return blocks


# Caches keyed by file content, so an edited recipe or key is never served stale (mtime can be
# too coarse to tell two writes in the same tick apart) while a repeated build costs two reads.
_recipes: dict[tuple[Path, bytes], FirmwareRecipe] = {}
_images: dict[tuple[FirmwareRecipe, bytes], FirmwareImage] = {}
_deltas: dict[tuple[FirmwareImage, FirmwareImage, PatchLayout], DeltaPackage] = {}


def load_recipe(path: Path) -> FirmwareRecipe:
    """Read and validate a recipe; any mistake raises ``ConfigError`` naming file, line and field."""
    path = Path(path).resolve()
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read firmware recipe: {exc.strerror or exc}", file=str(path)) from None
    cached = _recipes.get((path, text))
    if cached is not None:
        return cached
    recipe = _parse_recipe(path, text)
    _recipes[(path, text)] = recipe
    return recipe


def _parse_recipe(path: Path, text: bytes) -> FirmwareRecipe:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=str(path),
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(document, dict):
        raise ConfigError("a firmware recipe must be a mapping of keys to values", file=str(path))
    try:
        model = _RecipeFile.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"unknown key; expected one of: {', '.join(_RecipeFile.model_fields)}"
        raise ConfigError(message, file=str(path), line=_key_line(text, str(error["loc"][0])),
                          field=field) from None
    signing_key = (path.parent / model.signing_key).resolve()
    if not signing_key.is_file():
        raise ConfigError(f"signing key file not found: {signing_key}", file=str(path),
                          line=_key_line(text, "signing_key"), field="signing_key")
    return FirmwareRecipe(path, model.version, model.security_version, model.size,
                          model.self_test == "pass", signing_key, model.code_from, tuple(model.changed_blocks))


def _key_line(text: bytes, key: str) -> int | None:
    """1-based line of a top-level key in the recipe, for error messages."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for key_node, _value in getattr(node, "value", []):
        if getattr(key_node, "value", None) == key:
            return key_node.start_mark.line + 1
    return None


def build_image(recipe: FirmwareRecipe | Path) -> FirmwareImage:
    """The signed image a recipe describes; identical bytes on every call and every machine."""
    if not isinstance(recipe, FirmwareRecipe):
        recipe = load_recipe(recipe)
    try:
        pem = recipe.signing_key.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read signing key: {exc.strerror or exc}",
                          file=str(recipe.signing_key)) from None
    cached = _images.get((recipe, pem))
    if cached is not None:
        return cached
    try:
        payload = _synthesize_payload(recipe.version, recipe.size, self_test_passes=recipe.self_test_passes,
                                      code_from=recipe.code_from, changed_blocks=recipe.changed_blocks)
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(recipe.path), field="changed_blocks") from None
    image = sign_image(payload, version=recipe.version, security_version=recipe.security_version,
                       private_key=load_private_key(recipe.signing_key))
    _images[(recipe, pem)] = image
    return image


def build_delta(base: FirmwareRecipe | Path, target: FirmwareRecipe | Path, layout: PatchLayout) -> DeltaPackage:
    """The delta package from ``base``'s image to ``target``'s, signed with the target recipe's key
    (like the target image itself); ``layout`` from ``PatchLayout.for_profile(profile)``."""
    target = target if isinstance(target, FirmwareRecipe) else load_recipe(target)
    old, new = build_image(base), build_image(target)  # the target image is signed with the same key
    cached = _deltas.get((old, new, layout))
    if cached is None:
        cached = create_delta_package(old, new, private_key=load_private_key(target.signing_key), layout=layout)
        _deltas[(old, new, layout)] = cached
    return cached


_APP_BASE = 0x0800_8000  # where the payload is linked: after a 32 KiB bootloader
_RAM_BASE, _RAM_TOP = 0x2000_0000, 0x2002_0000
_PERIPHERAL_BASE = 0x4000_0000
_VECTOR_COUNT = 64
_BLOCK = 256  # code bytes per literal pool, pool included
_POOL = struct.Struct("<4I")
# High bytes of common 16-bit Thumb instructions: push/pop, ldr/str, movs/cmp/adds, mov, bx,
# conditional and unconditional branches, bl prefixes.
_OPCODES = bytes([0xB5, 0xBD, 0x68, 0x60, 0x20, 0x28, 0x1C, 0x46, 0x47, 0xD0, 0xD1, 0xE7,
                  0xF0, 0xF7, 0x69, 0x61, 0x4B, 0x2B, 0x30, 0xBF, 0x79, 0x71, 0x88, 0x80])
_HIGH_BYTE = bytes(_OPCODES[i % len(_OPCODES)] for i in range(256))


def _synthesize_payload(version: str, size: int, *, self_test_passes: bool, code_from: str = "",
                        changed_blocks: tuple[int, ...] = ()) -> bytes:
    """Application descriptor + deterministic firmware-like bytes, ``size`` bytes in all."""
    body_size = size - AppDescriptor.SIZE
    banner = b"ota-hil-bench application " + version.encode("ascii") + b"\0"
    banner += bytes(-len(banner) % 4)
    head_size = 4 * _VECTOR_COUNT + len(banner)
    code_size = max(body_size - head_size, 0)
    code_start = _APP_BASE + AppDescriptor.SIZE + head_size
    vectors, code = _vectors_and_code(code_from or version, code_size, code_start)
    if changed_blocks:
        blocks = -(-code_size // _BLOCK)
        if max(changed_blocks) >= blocks:
            raise ValueError(f"block {max(changed_blocks)} does not exist; firmware {version} has code blocks "
                             f"0..{blocks - 1}")
        _, own = _vectors_and_code(version, code_size, code_start)
        code = bytearray(code)
        for block in changed_blocks:
            code[block * _BLOCK:(block + 1) * _BLOCK] = own[block * _BLOCK:(block + 1) * _BLOCK]
    body = vectors + banner + bytes(code)
    return AppDescriptor(self_test_passes).pack() + body[:body_size]


def _vectors_and_code(seed_version: str, code_size: int, code_start: int) -> tuple[bytes, bytes]:
    seed = seed_version.encode("ascii")
    shake = hashlib.shake_256(b"ota-hil-bench firmware\0" + seed)
    stream = memoryview(shake.digest(_VECTOR_COUNT + code_size))
    return (_vector_table(stream[:_VECTOR_COUNT], code_start),
            _code(stream[_VECTOR_COUNT:], code_start, zlib.crc32(seed)))


def _vector_table(seed: memoryview, code_start: int) -> bytes:
    """Initial stack pointer, reset handler, then mostly the default handler (Thumb bit set)."""
    default_handler = code_start + 2 * seed[0]
    vectors = [_RAM_TOP]
    for i, byte in enumerate(seed[1:], start=1):
        own_handler = i == 1 or byte < 64  # reset and a few device interrupts have their own
        vectors.append((code_start + 64 * byte + 4 * i if own_handler else default_handler) | 1)
    return struct.pack(f"<{len(vectors)}I", *vectors)


def _code(stream: memoryview, address: int, constant: int) -> bytes:
    """Thumb-like halfwords with a literal pool (function pointer, RAM, peripheral, constant) per block."""
    code = bytearray(stream)
    code[1::2] = code[1::2].translate(_HIGH_BYTE)
    for start in range(0, len(code) - _BLOCK + 1, _BLOCK):
        pool = start + _BLOCK - _POOL.size
        ram = _RAM_BASE + (int.from_bytes(code[pool:pool + 2], "little") & 0xFFFC)
        peripheral = _PERIPHERAL_BASE + (start // _BLOCK % 64) * 0x400
        _POOL.pack_into(code, pool, (address + start) | 1, ram, peripheral, constant)
    return bytes(code)
