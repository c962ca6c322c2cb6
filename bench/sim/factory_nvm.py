"""End-of-line NVM images, kept per process: a virtual ECU's flash and EEPROM as its factory left
them, copied into a new ECU's files instead of erased and programmed anew.

Every catalog scenario brings its ECUs up in a fresh NVM folder; programming the factory
software (each page, through the flash's checkpoints) and saving the record is the same work
every time for the same dialect, profile, geometry and software. The first ECU of a kind is
programmed as before and its two files read back; the next ones get the same bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path

from bench.sim.nvm import write_whole

KEPT = 8
"""Factory images kept per process (each holds a whole flash: one or a few MiB)."""

_images: dict[Hashable, tuple[bytes, bytes]] = {}
_lock = threading.Lock()


def factory_nvm(key: Hashable | None, flash_path: Path, eeprom_path: Path, program: Callable[[], None]) -> None:
    """Leave ``flash_path`` and ``eeprom_path`` as ``program()`` leaves two absent files: copied from
    the image kept under ``key``, or programmed and kept. ``key`` names everything ``program``
    depends on; None (software that cannot be compared) programs every time."""
    if key is None or flash_path.exists() or eeprom_path.exists():
        program()
        return
    with _lock:
        image = _images.get(key)
    if image is None:
        program()
        image = flash_path.read_bytes(), eeprom_path.read_bytes()
        with _lock:
            if len(_images) >= KEPT:
                _images.pop(next(iter(_images)))
            _images[key] = image
        return
    write_whole(flash_path, image[0])
    write_whole(eeprom_path, image[1])
