"""What a test printed and logged, attached to its report only where someone will read it.

allure-pytest attaches every test's captured logging, stdout and stderr (``log``, ``stdout``,
``stderr``). A campaign of thousands passes nearly all of them, each with its expected can-isotp
warnings and UDS client errors: tens of thousands of lines nobody reads, most of the report's
size. ``--captured-output failed`` (the default) keeps them for failed tests only, ``all`` for
every test (pytest's own ``--allure-no-capture`` drops them everywhere).
"""

from __future__ import annotations

import pytest

CAPTURE_POLICIES = ("failed", "all")
CAPTURED = ("Captured log ", "Captured stdout ", "Captured stderr ")
"""pytest's report sections of a test's output (``Captured log call``...)."""
FAILED = pytest.StashKey[bool]()
"""A phase of the test (set-up, call, tear-down) failed so far."""


def add_capture_option(parser: pytest.Parser) -> None:
    parser.getgroup("ota-hil-bench").addoption(
        "--captured-output", choices=CAPTURE_POLICIES, default="failed", dest="captured_output",
        help="attach each test's captured log, stdout and stderr to its Allure result for failed tests "
             "(default) or all tests")


def keep_captured_output(config: pytest.Config, report: pytest.TestReport) -> None:
    """Drop the captured output from the tear-down report of a test that did not fail (the one
    allure-pytest attaches it from), unless ``--captured-output all``."""
    if config.getoption("captured_output", default="failed") == "all":
        return
    report.sections = [(name, text) for name, text in report.sections if not name.startswith(CAPTURED)]
