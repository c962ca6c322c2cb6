"""An evidence bundle: one run packed into one archive for a technical service, with a manifest
of the SHA-256 of every file in it, and the check of an archive against its manifest.

The archive is a zip file whose members are grouped by what they are (``report/`` the Allure
HTML report, ``results/`` the Allure results with every attachment, ``matrices/``, ``requirements/``,
``benches/``, ``catalogs/``, ``provenance.properties``: the software versions the run read, the
framework's version and the git revision). ``MANIFEST.sha256`` lists every other member as
``sha256sum`` writes it, so ``sha256sum -c MANIFEST.sha256`` checks an unpacked copy as well.
The manifest proves integrity against accidental or later change; it is not a signature.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bench.errors import ConfigError
from bench.report.environment import write_properties

MANIFEST = "MANIFEST.sha256"
PROVENANCE = "provenance.properties"
_STAMP = (1980, 1, 1, 0, 0, 0)
"""Every member's date: the same run packed twice gives the same archive."""


@dataclass(frozen=True)
class BundleContents:
    """What goes into a bundle: archive folder → files or folders (folders are taken whole)."""

    parts: Mapping[str, Iterable[Path]]
    provenance: Mapping[str, str]


@dataclass
class Verification:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not (self.changed or self.missing or self.unlisted)


def members(contents: BundleContents) -> Iterator[tuple[str, Path]]:
    """(name in the archive, file on disk), sorted by name; a missing path is a user error."""
    found: dict[str, Path] = {}
    for folder, paths in contents.parts.items():
        for path in paths:
            if path.is_dir():
                for file in sorted(item for item in path.rglob("*") if item.is_file()):
                    found[str(PurePosixPath(folder, path.name, *file.relative_to(path).parts))] = file
            elif path.is_file():
                found[str(PurePosixPath(folder, path.name))] = path
            else:
                raise ConfigError("no such file or folder to pack", file=str(path))
    yield from sorted(found.items())


def pack(contents: BundleContents, archive: Path) -> int:
    """Write the bundle to ``archive``; returns how many files it holds besides the manifest."""
    lines = []
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        provenance = archive.with_name(archive.name + ".provenance")
        write_properties(provenance, contents.provenance)
        try:
            entries = [*members(contents), (PROVENANCE, provenance)]
            for name, path in sorted(entries):
                data = path.read_bytes()
                bundle.writestr(zipfile.ZipInfo(name, _STAMP), data, compress_type=zipfile.ZIP_DEFLATED)
                lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
        finally:
            provenance.unlink()
        bundle.writestr(zipfile.ZipInfo(MANIFEST, _STAMP), "\n".join(lines) + "\n")
    return len(lines)


def verify(archive: Path) -> Verification:
    """Every member of ``archive`` against its manifest: changed, missing and unlisted files."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"not an evidence archive: {exc}", file=str(archive)) from None
    with bundle:
        names = set(bundle.namelist())
        if MANIFEST not in names:
            raise ConfigError(f"not an evidence archive: it has no {MANIFEST}", file=str(archive))
        listed: dict[str, str] = {}
        for number, line in enumerate(bundle.read(MANIFEST).decode("utf-8").splitlines(), start=1):
            digest, separator, name = line.partition("  ")
            if not separator or len(digest) != 64:
                raise ConfigError(f"{MANIFEST} line {number} is not '<sha256>  <file>'", file=str(archive))
            listed[name] = digest
        result = Verification()
        for name, digest in sorted(listed.items()):
            if name not in names:
                result.missing.append(name)
                continue
            result.checked += 1
            if hashlib.sha256(bundle.read(name)).hexdigest() != digest:
                result.changed.append(name)
        result.unlisted = sorted(names - set(listed) - {MANIFEST})
    return result
