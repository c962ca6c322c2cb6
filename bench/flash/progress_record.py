"""The tester's record of a flash of software files in progress: which logical blocks are done.

An HIS-style bootloader keeps no journal (a flash specification's ``resume: restart_block``), so
the tester must know where a flash that a power cut stopped starts again: real OEM flash tools
keep that on the tester. This record is kept on disk, one JSON file per ECU, so a later process
(``ota-bench flash --resume``, a pytest run with ``--flash-progress``) resumes where the last one
stopped. It is written when the logical blocks start and after every block whose check passed,
the durable way (a temporary file in the same folder, fsync, ``os.replace``: a cut while writing
leaves the previous record, never half of one)::

    {"format": "ota-bench flash progress", "version": 1,
     "ecu": "eps",                                   the ECU of the bench file
     "software": "9f2c...",                          the logical blocks' digest (block_plan.plan_digest)
     "identity": {"0xF18C": "SN-0042"},              identification DIDs the spec read before the blocks
     "blocks": ["application 0x00010000", "calibration 0x00080000"],
     "blocks_done": 1,                               logical blocks programmed and checked, in order
     "complete": false,                              true once the whole sequence went through
     "updated": "2026-12-04T17:30:00+00:00"}

A file that is not such a record (not JSON, another format or version, a field missing or of the
wrong type) is a ``ConfigError`` naming it: never a crash, never a resume from a guess.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.durable import write_json
from bench.errors import ConfigError

FORMAT = "ota-bench flash progress"
VERSION = 1


@dataclass(frozen=True)
class BlocksDone:
    """What one record says: ``blocks_done`` of the logical ``blocks`` of ``software`` are in ``ecu``."""

    ecu: str
    software: str
    blocks: tuple[str, ...]
    blocks_done: int
    identity: dict[str, str] = field(default_factory=dict)
    """Identification DIDs (``0xF18C``) and what the ECU answered before its blocks were flashed."""
    complete: bool = False


class ProgressRecord:
    """The record file at ``path`` (its folder is made on the first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> BlocksDone | None:
        """The record; None when there is none; ConfigError when the file is not one."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._broken(f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._broken(f"is not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._broken(f"is not a flash progress record (no \"format\": \"{FORMAT}\")")
        if data.get("version") != VERSION:
            raise self._broken(f"is a record of version {data.get('version')!r}; this bench reads version {VERSION}")
        done = BlocksDone(self._field(data, "ecu", str), self._field(data, "software", str),
                          tuple(self._field(data, "blocks", list)), self._field(data, "blocks_done", int),
                          self._field(data, "identity", dict), self._field(data, "complete", bool))
        if not all(isinstance(value, str) for value in (*done.blocks, *done.identity, *done.identity.values())):
            raise self._broken("holds a block name or identity value that is not text")
        if not 0 <= done.blocks_done <= len(done.blocks):
            raise self._broken(f"says {done.blocks_done} of {len(done.blocks)} logical blocks are done")
        return done

    def write(self, done: BlocksDone) -> None:
        """Replace the record with ``done``, durably; ConfigError naming the file when it cannot be written."""
        record = {"format": FORMAT, "version": VERSION, "ecu": done.ecu, "software": done.software,
                  "identity": done.identity, "blocks": list(done.blocks), "blocks_done": done.blocks_done,
                  "complete": done.complete,
                  "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        try:
            write_json(self.path, record)
        except OSError as exc:
            raise ConfigError(f"cannot write the flash progress record: {exc.strerror or exc}",
                              file=str(self.path)) from None

    def _field(self, data: dict[str, Any], name: str, kind: type) -> Any:
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._broken(f"has no {kind.__name__} {name!r} (found {value!r})")
        return value

    def _broken(self, what: str) -> ConfigError:
        return ConfigError(f"the flash progress record {what}: flash without resuming (or delete it) "
                           "to start from the first logical block",
                           file=str(self.path))

