"""Allure results on disk: read the test results of a run, add run-level attachments.

Results are the ``*-result.json`` files allure-pytest writes (one per test; the format is
allure-python-commons' ``TestResult``). A test run again into the same folder (no
``--clean-alluredir``) has several; the last one counts, as in Allure's report.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import ATTACHMENT_PATTERN, GlobalAttachment, Globals
from allure_commons.utils import now


REQUIREMENT_LABEL = "requirement"
"""The Allure label naming a requirement a test demonstrates (``bench.report.labels``)."""


@dataclass(frozen=True)
class Outcome:
    """How one test ended, as its Allure result says."""

    name: str
    status: str
    """``passed``, ``failed``, ``broken``, ``skipped`` or ``unknown``."""
    labels: dict[str, str]
    """The last value of each label (Allure shows a repeated label's values; ours are single)."""
    requirements: tuple[str, ...] = ()
    """Every value of the label ``requirement`` (a test may demonstrate several)."""
    history_id: str = ""
    """Allure's id of the test across runs (its full name and parameters)."""
    message: str = ""
    """The failure message, if any (what the categories match)."""


def latest_results(alluredir: Path) -> Iterator[Outcome]:
    """The last result of every test in ``alluredir``."""
    latest: dict[str, dict[str, Any]] = {}
    for path in alluredir.glob("*-result.json"):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a result allure-pytest finished writing: nothing to count
        key = result.get("historyId") or result.get("uuid") or path.name
        if key not in latest or result.get("stop", 0) >= latest[key].get("stop", 0):
            latest[key] = result
    for result in latest.values():
        labels = result.get("labels", [])
        yield Outcome(name=result.get("name", ""), status=result.get("status") or "unknown",
                      labels={label["name"]: label.get("value", "") for label in labels},
                      requirements=tuple(dict.fromkeys(label.get("value", "") for label in labels
                                                       if label["name"] == REQUIREMENT_LABEL)),
                      history_id=result.get("historyId") or result.get("fullName") or result.get("name", ""),
                      message=(result.get("statusDetails") or {}).get("message") or "")


def attach_to_run(alluredir: Path, files: Sequence[tuple[str, Path]]) -> None:
    """Attach ``(name, file)`` pairs to the whole run (Allure 3 shows them as global attachments)."""
    logger = AllureFileLogger(alluredir)
    attachments = []
    for name, path in files:
        source = ATTACHMENT_PATTERN.format(prefix=uuid.uuid4(), ext=path.suffix.lstrip("."))
        logger.report_attached_file(source=path, file_name=source)
        attachments.append(GlobalAttachment(name=name, source=source, type=mimetypes.guess_type(path.name)[0],
                                            timestamp=now()))
    logger.report_globals(Globals(attachments=attachments))
