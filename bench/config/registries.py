"""Names a bench file may use for what higher layers provide, so that the file is checked when it
loads (file, line, field) without importing those layers.

* ``MUTANT_BOOTLOADERS``: the simulator's deliberately broken bootloaders
  (``virtual: {mutant: NAME}``), each with the kinds of bootloader it is a defect of. The
  classes are in ``bench.sim.mutants``, which builds its ``MUTANTS`` from the same names;
  ``tests/test_config.py`` fails when the two disagree.
"""

from __future__ import annotations

BOTH = frozenset({"single_bank", "ab"})

MUTANT_BOOTLOADERS: dict[str, frozenset[str]] = {
    "switch_before_verify": BOTH,
    "no_invalidate_on_erase": frozenset({"single_bank"}),
    "forget_journal": BOTH,
    "no_trial_rollback": frozenset({"ab"}),
    "ignore_anti_rollback": BOTH,
    "torn_page_ok": BOTH,
}
