"""Allure categories of failures: product defects of the ECU apart from faults of the bench.

``categories.json`` (next to this file) is the one list: the plugin copies it into the results
folder (Allure 2 and the classic Allure 3 report read it there) and ``reports/allurerc.mjs``
gives it to Allure 3's default report. Each regex is written so that Allure 2 (the whole
message must match) and Allure 3 (the first category whose regex is found in the message) sort a
message the same way: every message fits one category at most. A message starts with the
exception's qualified name, e.g. ``bench.scenarios.oracles.EcuBricked: bms is bricked: ...``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CATEGORIES_FILE = Path(__file__).with_name("categories.json")


def write_categories(alluredir: Path) -> None:
    shutil.copyfile(CATEGORIES_FILE, alluredir / "categories.json")
