"""Software releases: an ECU's update given as software files (Intel HEX, S-record, VBF...) and
the version it carries, described by a small YAML file beside the firmware recipes::

    # fixtures/firmware/eps-2.0.0.yaml
    version: "2.0.0"                      # what the ECU reports once it runs this release
    software: [../software/eps-2.0.0.hex] # relative to this file; loaded with load_software

A release is flashed by the ECU's flash specification (``Flasher.flash_software``); a catalog
scenario's ``to``/``from`` and the ``firmware`` fixture name it as they name a recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import ConfigError
from bench.image.software import SoftwareFile, load_software


class _ReleaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1)
    software: list[Path] = Field(min_length=1)


@dataclass(frozen=True)
class SoftwareRelease:
    name: str
    version: str
    files: tuple[SoftwareFile, ...]


def is_release(path: Path) -> bool:
    """Whether the YAML file at ``path`` describes a release (it has ``software:``), not a recipe."""
    try:
        text = path.read_bytes()
    except OSError:
        return False  # the recipe loader reports what is wrong with it
    known = _kinds.get((path, text))
    if known is None:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return False
        known = _kinds[(path, text)] = isinstance(document, dict) and "software" in document
    return known


_kinds: dict[tuple[Path, bytes], bool] = {}
"""Whether a firmware file is a release, by its path and content (a scenario asks for every image
it flashes; the YAML is parsed once per content)."""


_releases: dict[tuple[Path, bytes, tuple[int, ...]], SoftwareRelease] = {}
"""Loaded releases, keyed by the release file's content and its software files' mtimes."""


def load_release(path: Path) -> SoftwareRelease:
    """The release at ``path`` with its files loaded; ConfigError naming the file and field otherwise."""
    path = Path(path).resolve()
    try:
        text = path.read_bytes()
        model = _ReleaseFile.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read software release: {exc}", file=str(path)) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(error["msg"], file=str(path), field=".".join(str(p) for p in error["loc"])) from None
    paths = [path.parent / file for file in model.software]
    key = (path, text, tuple(file.stat().st_mtime_ns if file.exists() else 0 for file in paths))
    if key not in _releases:
        _releases[key] = SoftwareRelease(path.stem, model.version, tuple(load_software(file) for file in paths))
    return _releases[key]
