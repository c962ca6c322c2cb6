"""Helpers shared by the OTA suites (imported by name: testcases/ is on sys.path)."""

from __future__ import annotations

import pytest

BOTH_ECUS = pytest.mark.parametrize("ecu", ["bcm", "bms"], indirect=True)
"""Run a test on the single-bank ECU (bcm, classic CAN) and the A/B ECU (bms, CAN FD)."""
