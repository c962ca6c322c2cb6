"""Allure categories of failures: product defects of the ECU apart from faults of the bench.

``categories.json`` (next to this file) is the one list: the plugin copies it into the results
folder (Allure 2 and the classic Allure 3 report read it there) and ``reports/allurerc.mjs``
gives it to Allure 3's default report. Each regex is written so that Allure 2 (the whole
message must match) and Allure 3 (the first category whose regex is found in the message) sort a
message the same way: every message fits one category at most. A message starts with the
exception's qualified name, e.g. ``bench.scenarios.oracles.EcuBricked: bms is bricked: ...``.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path

CATEGORIES_FILE = Path(__file__).with_name("categories.json")
BENCH_FAULT = "Bench fault"
"""How the names of the bench-fault categories begin."""


@cache
def _categories() -> tuple[tuple[str, frozenset[str], re.Pattern[str]], ...]:
    return tuple((category["name"], frozenset(category.get("matchedStatuses", ())),
                  re.compile(category.get("messageRegex", ".*")))
                 for category in json.loads(CATEGORIES_FILE.read_text(encoding="utf-8")))


def category_of(status: str, message: str) -> str | None:
    """The category Allure 3 puts a result in: the first whose statuses and regex (searched in the
    message) fit; None for a pass, a skip or a message no category knows."""
    return next((name for name, statuses, regex in _categories() if status in statuses and regex.search(message)),
                None)


def write_categories(alluredir: Path) -> None:
    shutil.copyfile(CATEGORIES_FILE, alluredir / "categories.json")
