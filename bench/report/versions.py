"""ECU software versions seen during a run, carried from the tests to the end of the run.

A test's bench records every application version its ECUs reported (``EcuHandle.reads()``:
the test's own reads and the flasher's read-back after each flash) in the
item's ``user_properties`` (``ecu_version.<ecu>``). Those travel with the test reports, also
from pytest-xdist workers to the controller, which gathers them for ``environment.properties``
(and junitxml shows them as properties).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest


if TYPE_CHECKING:
    from bench.rig import Bench

PROPERTY_PREFIX = "ecu_version."


def versions_read(rig: Bench) -> dict[str, set[str]]:
    """Versions the ECUs of ``rig`` reported during this test, by ECU."""
    return {name: set(reads.versions) for name, handle in rig.handles().items() if (reads := handle.reads()).versions}


def record_versions(item: pytest.Item, rig: Bench) -> None:
    """Put the versions ``rig``'s ECUs reported into ``item``'s user properties."""
    for ecu, versions in versions_read(rig).items():
        for version in sorted(versions):
            item.user_properties.append((PROPERTY_PREFIX + ecu, version))


def versions_in(user_properties: Iterable[tuple[str, object] | list[object]]) -> Iterator[tuple[str, str]]:
    """(ecu, version) pairs recorded in a test report's user properties (lists after xdist)."""
    for name, value in user_properties:
        if isinstance(name, str) and name.startswith(PROPERTY_PREFIX):
            yield name.removeprefix(PROPERTY_PREFIX), str(value)
