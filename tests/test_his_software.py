"""The EPS's software files: the committed Intel HEX files are what fixtures/software/build.py
writes (reproducible), their blocks fit the his profile's logical blocks, and the version the
application block carries is the one the ECU reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench.sim.dialects.his.software import IDENTIFICATION_SIZE, build_blocks, identification, identify
from his_sim import APP, CAL, SOFTWARE, software


def _build_script():
    spec = importlib.util.spec_from_file_location("eps_software_build", SOFTWARE / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_committed_hex_files_are_what_the_builder_writes(version: str) -> None:
    assert (SOFTWARE / f"eps-{version}.hex").read_text() == _build_script().hex_text(version)


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_each_file_has_an_application_and_a_calibration_block_naming_its_version(version: str) -> None:
    (app_address, app), (cal_address, cal) = software(version)
    assert app_address == APP.address and len(app) <= APP.size
    assert cal_address == CAL.address and len(cal) <= CAL.size
    assert identification(app) == identification(cal) == version


def test_identification_of_erased_or_garbage_bytes_is_none() -> None:
    assert identification(b"\xff" * IDENTIFICATION_SIZE) is None
    assert identification(bytes(IDENTIFICATION_SIZE)) is None
    assert identification(b"1.0") is None                           # shorter than the field
    assert identification(identify("3.1.4") + b"rest") == "3.1.4"
    with pytest.raises(ValueError):
        identify("x" * (IDENTIFICATION_SIZE + 1))


def test_builder_is_deterministic_and_versions_differ() -> None:
    blocks = [("application", 0x10000, 0x400)]
    assert build_blocks("1.0.0", blocks) == build_blocks("1.0.0", blocks)
    assert build_blocks("1.0.0", blocks)[0][1][IDENTIFICATION_SIZE:] != build_blocks("2.0.0", blocks)[0][1][IDENTIFICATION_SIZE:]
