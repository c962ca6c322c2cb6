"""JUnit XML (``--junitxml``) beside Allure: a bench fault or a usage error is an ``<error>``, an
ECU failure a ``<failure>``.

pytest's junitxml writes a failure in a test's body as ``<failure>`` and one in its set-up or
tear-down as ``<error>``. A bench fault in the body (a supply that stops answering in the middle
of a test, a scenario whose simulator crashed), and a usage error found in the body (a trigger
point the update never reaches), is retagged ``<error>`` right after junitxml has written it, message and text unchanged, so CI systems count it apart from the ECU's failures.
"""

from __future__ import annotations

import pytest
from _pytest.junitxml import xml_key  # the LogXML of the run: pytest keeps it under this key


def retag_as_error(config: pytest.Config, report: pytest.TestReport) -> None:
    """Retag the ``<failure>`` junitxml just wrote for ``report`` (a bench fault or usage error in a
    test body)."""
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    failures = [node for node in xml.node_reporter(report).nodes if node.tag == "failure"]
    if failures:
        failures[-1].tag = "error"
        xml.stats["failure"] -= 1
        xml.stats["error"] += 1
