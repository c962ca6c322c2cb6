"""The plugin freezes what start-up built before collection, and what collection built after it
(``gc.freeze``, in ``bench.pytest.plugin``), and thaws it when the run ends; garbage the tests
make is still collected."""

from __future__ import annotations

from pathlib import Path

from rack_suite import bcm_project, run_pytest

PROBE = """\
import gc
import weakref


class Node:
    pass


def test_collection_is_frozen_and_later_cycles_are_collected():
    assert gc.get_freeze_count() > 10_000  # modules, models, the catalog's items
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    assert gone() is None
"""

CONFTEST = """\
import gc


def pytest_collection_modifyitems(items):
    assert gc.get_freeze_count() > 10_000, "start-up was not frozen before collection"


def pytest_unconfigure(config):
    (config.rootpath / "frozen-at-the-end").write_text(str(gc.get_freeze_count()))
"""

CATALOG = """\
campaign: good
defaults: {to: app-2.0.0}
matrix: {ecu: bcm, fault: power_cut, at: [erase, "block:3"]}
"""


def test_start_up_and_collection_are_frozen_for_the_run_and_garbage_of_the_run_collected(tmp_path: Path) -> None:
    bcm_project(tmp_path, {"test_probe.py": PROBE, "conftest.py": CONFTEST,
                                "scenarios/good.yaml": CATALOG})
    done = run_pytest(tmp_path, "-p", "no:xdist", "-p", "no:randomly", "--bench", "rack.yaml", "test_probe.py",
                      "scenarios", "--deselect", "scenarios/good.yaml::good[bcm-full-power_cut@block:3]",
                      "--deselect", "scenarios/good.yaml::good[bcm-full-power_cut@erase]")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 deselected" in done.stdout
    assert (tmp_path / "frozen-at-the-end").read_text() == "0"
