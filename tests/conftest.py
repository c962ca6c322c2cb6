"""The framework's own tests; pytester runs throwaway suites through the installed plugin.

Fixtures here make bus-less virtual ECUs (see sim_factory.py). The bench fixtures (``bench``,
``ecu``, ``flasher``, ``power``, ``sim``, ``firmware``) come from the plugin itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from sim_factory import PAGE, SimEcu, make_profile, recipe

pytest_plugins = ["pytester"]

# Property-based tests (tests/test_fuzz_ecu.py): by default a few seconds with the same examples
# every run; OTA_FUZZ_PROFILE=nightly for the long random run of a nightly job.
settings.register_profile("bench", max_examples=100, deadline=None, derandomize=True, database=None)
settings.register_profile("nightly", max_examples=10_000, deadline=None, database=None)
settings.load_profile(os.environ.get("OTA_FUZZ_PROFILE", "bench"))

MakeEcu = Callable[..., SimEcu]
FACTORY = object()


@pytest.fixture
def make_ecu(tmp_path: Path) -> Iterator[MakeEcu]:
    """``make_ecu("ab", factory_image=None, max_block_length=0x102)``: a powered SimEcu.

    Keywords other than ``factory_image`` and ``page_size`` (flash geometry) override the profile.

    By default bank A holds app-1.0.0 (security version 1) from the factory.
    """
    made: list[SimEcu] = []

    def make(bootloader: str = "single_bank", *, factory_image: object = FACTORY, page_size: int = PAGE,
             **profile: object) -> SimEcu:
        image = recipe("app-1.0.0") if factory_image is FACTORY else factory_image
        directory = tmp_path / f"ecu{len(made)}"
        directory.mkdir()
        ecu = SimEcu(directory, make_profile(bootloader, **profile), factory_image=image,  # type: ignore[arg-type]
                     page_size=page_size)
        made.append(ecu)
        return ecu

    yield make
    for ecu in made:
        ecu.close()


@pytest.fixture
def single_bank(make_ecu: MakeEcu) -> SimEcu:
    """Single-bank ECU running app-1.0.0, default session."""
    return make_ecu("single_bank")


@pytest.fixture
def ab(make_ecu: MakeEcu) -> SimEcu:
    """A/B ECU running app-1.0.0 from bank A, default session."""
    return make_ecu("ab")
