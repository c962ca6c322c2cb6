"""Names a bench file may use for what higher layers provide, so that the file is checked when it
loads (file, line, field) without importing those layers.

* ``POWER_DRIVERS``: the ``driver:`` of a ``power:`` entry. Built in: ``virtual``, ``scpi``,
  ``relay``, ``process`` (``bench.power``); a lab adds its own supply as one module, registered with
  ``POWER_DRIVERS.register`` or, from a package of its own, an entry point of the group
  ``ota_hil_bench.power``. A driver is a class with ``from_config(name, config)``
  (``bench.power.protocol.PowerDriver``).
* ``MUTANT_BOOTLOADERS``: the simulator's deliberately broken bootloaders
  (``virtual: {mutant: NAME}``), each with the kinds of bootloader it is a defect of. The
  classes are in ``bench.sim.mutants``, which builds its ``MUTANTS`` from the same names;
  ``tests/test_config.py`` fails when the two disagree.
"""

from __future__ import annotations

from bench.registry import Registry

POWER_DRIVERS = Registry("power driver", {
    "virtual": "bench.power.virtual:VirtualSupply",
    "scpi": "bench.power.scpi:ScpiSupply",
    "relay": "bench.power.relay:SerialRelay",
    "process": "bench.power.process:ProcessSupply",
}, group="ota_hil_bench.power")

BUILTIN_SERIAL_DRIVERS = frozenset({"scpi", "relay"})
"""Built-in drivers of an instrument on a serial port: they need ``url``."""

BOTH = frozenset({"single_bank", "ab"})
SIGNED_IMAGE_BOOTLOADERS = BOTH
"""The bench's own bootloader dialects: they take its signed images (a virtual one needs ``trusted_key``)."""
COMMITTING_BOOTLOADERS = BOTH
"""Bootloaders with the routine ``commit_bank``: their anti-rollback counter moves when an update is
committed (``bench.sim.boot``); the HIS dialect models no counter and has no such routine."""

MUTANT_BOOTLOADERS: dict[str, frozenset[str]] = {
    "switch_before_verify": BOTH,
    "no_invalidate_on_erase": frozenset({"single_bank"}),
    "forget_journal": BOTH,
    "no_trial_rollback": frozenset({"ab"}),
    "ignore_anti_rollback": BOTH,
    "early_anti_rollback": BOTH,
    "torn_page_ok": BOTH,
    "late_programming_session": BOTH,
    "his_crc_not_checked": frozenset({"his"}),
    "his_erases_wrong_block": frozenset({"his"}),
    "his_download_before_erase": frozenset({"his"}),
    "his_keeps_valid_on_erase": frozenset({"his"}),
}
