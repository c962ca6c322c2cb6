"""Which imported packages pytest rewrites the assertions of: not the bench's, not hypothesis's.

pytest marks for assertion rewriting every package of a distribution that registers a pytest
plugin: all of ``bench`` (its plugin is ``bench.pytest.plugin``) and all of ``hypothesis``. A
marked module is parsed into a Python AST, rewritten and compiled on every import; where no
bytecode is written (``PYTHONDONTWRITEBYTECODE``, as on this project's hosts) that is every run
and every xdist worker. Neither package asserts anything a test's reader sees: the bench raises
its own errors, and hypothesis's asserts are its internal invariants (its plugin imports it for
the run's summary even when no test uses it). Rewriting them cost 0.7 s of CPU per pytest process
(``pytest --collect-only`` of a 60-scenario sample: 2.3 -> 1.6 s; ``benchmarks/README.md``). Tests,
conftest files and the testcases' own helpers are rewritten as before.

pytest has no public way to unmark a package: this takes the names out of its import hook's
``_must_rewrite`` (``tests/test_library_internals.py`` checks it on the pinned pytest).
"""

from __future__ import annotations

import sys

UNREWRITTEN = ("bench", "hypothesis")


def leave_unrewritten(names: tuple[str, ...] = UNREWRITTEN) -> None:
    """Stop pytest's import hook (when one is installed) rewriting the modules of ``names`` that
    are imported from now on."""
    from _pytest.assertion.rewrite import AssertionRewritingHook

    for finder in sys.meta_path:
        if isinstance(finder, AssertionRewritingHook):
            must_rewrite = getattr(finder, "_must_rewrite", None)
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if must_rewrite is None or cache is None:  # another pytest than the pinned: only the speed-up is lost
                return
            must_rewrite.difference_update(names)
            for module in [module for module in cache if module.split(".")[0] in names]:
                del cache[module]
