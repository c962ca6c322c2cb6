"""``load_software``: any supported software file into one ``SoftwareFile``, its format chosen by
extension or, for an extension the bench does not know, by its first bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from bench.errors import ConfigError
from bench.image.software import bench_image, binary, intel_hex, srecord, vbf
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import SoftwareFile

Loader = Callable[[Path, bytes, int | None, MemoryMap | None], SoftwareFile]


@dataclass(frozen=True)
class _Format:
    name: str
    extensions: tuple[str, ...]
    looks_like: Callable[[bytes], bool] | None
    """Recognises the format by its first bytes; ``None``: any bytes could be one (a raw binary)."""
    load: Loader


def _addressed(load: Callable[[Path, bytes, MemoryMap | None], SoftwareFile], name: str) -> Loader:
    """A format whose file carries its own addresses: a base address is a mistake, not a hint."""
    def load_without_base(path: Path, raw: bytes, base_address: int | None,
                          memory_map: MemoryMap | None) -> SoftwareFile:
        if base_address is not None:
            raise ConfigError(f"a base address applies to raw binaries; this {name} file carries its own "
                              "addresses", file=str(path), field="base_address")
        return load(path, raw, memory_map)
    return load_without_base


_FORMATS = (
    _Format(intel_hex.FORMAT, (".hex", ".ihex"), intel_hex.looks_like, _addressed(intel_hex.load, "Intel HEX")),
    _Format(srecord.FORMAT, (".s19", ".s28", ".s37", ".srec", ".mot"), srecord.looks_like,
            _addressed(srecord.load, "S-record")),
    _Format(vbf.FORMAT, (".vbf",), vbf.looks_like, _addressed(vbf.load, "VBF")),
    _Format(bench_image.FORMAT, (".bin", ".img"), bench_image.looks_like, bench_image.load),
    _Format(binary.FORMAT, (".bin",), None, binary.load),
)


def load_software(path: str | Path, *, base_address: int | None = None,
                  memory_map: Iterable[tuple[int, int]] | MemoryMap | None = None) -> SoftwareFile:
    """Read a software file into logical blocks. ``base_address`` places a raw binary;
    ``memory_map`` lists the (start, length) ranges the ECU accepts, and data outside them is an
    error. A malformed file raises ``ConfigError`` naming the file, the line (HEX, S-record) or
    byte offset (binary, VBF), and what is wrong, before anything is sent."""
    source = Path(path)
    file = str(source)
    try:
        allowed = MemoryMap.of(memory_map)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, field="memory_map") from None
    try:
        seen = source.stat()
        key = (file, seen.st_mtime_ns, seen.st_size, seen.st_ino, base_address, allowed)
        loaded = _loaded.get(key)
        raw = source.read_bytes() if loaded is None else b""
    except OSError as exc:
        raise ConfigError(f"cannot read software file: {exc.strerror or exc}", file=file) from None
    if loaded is None:
        loaded = _format_of(source, raw).load(source, raw, base_address, allowed)
        if len(_loaded) >= LOADED_KEPT:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = loaded
    return replace(loaded, header=dict(loaded.header))  # a header of the caller's own


LOADED_KEPT = 16
"""Software files kept parsed per process: a virtual ECU's factory software is loaded at every
bench start (every catalog scenario), and a large HEX file takes milliseconds to parse."""
_loaded: dict[tuple[object, ...], SoftwareFile] = {}
"""Parsed files by (path, modification time, size, inode, base address, memory map): a file changed
since is parsed again. Only files that loaded without error are kept."""


def _format_of(path: Path, raw: bytes) -> _Format:
    """By extension (the first format of that extension whose content matches, else the one that
    matches any content); an unknown extension by content alone."""
    suffix = path.suffix.lower()
    by_extension = [candidate for candidate in _FORMATS if suffix in candidate.extensions]
    for candidate in by_extension:
        if candidate.looks_like is None or candidate.looks_like(raw):
            return candidate
    if by_extension:
        return by_extension[0]
    for candidate in _FORMATS:
        if candidate.looks_like is not None and candidate.looks_like(raw):
            return candidate
    known = "; ".join(f"{candidate.name} ({' '.join(candidate.extensions)})" for candidate in _FORMATS)
    raise ConfigError(f"unknown software file format: neither the extension {suffix or '(none)'!r} nor the "
                      f"content is one the bench reads: {known}", file=str(path))
