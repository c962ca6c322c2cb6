"""The pytest plugin (entry point ``pytest11: bench``): options, markers, bench loading.

Hooks live here; fixtures in ``bench.fixtures``. A bench file that does not load stops the
run before any test, with the file, line and field of the problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError

pytest_plugins = ("bench.fixtures",)

DEFAULT_BENCH = Path("fixtures/benches/virtual.yaml")
BENCH_CONFIG_KEY = pytest.StashKey["object"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--bench", metavar="PATH", default=None,
                    help=f"bench file (YAML); default: {DEFAULT_BENCH} under the rootdir")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ecu(name): the test runs against this ECU (fixture `ecu`)")
    config.addinivalue_line("markers", "virtual_only: the test needs a simulated ECU (probes, NVM)")


def bench_path(config: pytest.Config) -> Path:
    option = config.getoption("--bench")
    return Path(option) if option else config.rootpath / DEFAULT_BENCH


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Load the bench once, before any test runs; skip tests whose ECU the bench lacks."""
    if not any("bench" in item.fixturenames for item in items):
        return
    try:
        bench = load_bench(bench_path(config))
    except ConfigError as exc:
        raise pytest.UsageError(f"bench configuration error:\n{exc}") from None
    config.stash[BENCH_CONFIG_KEY] = bench
    for item in items:
        marker = item.get_closest_marker("ecu")
        if marker and marker.args and marker.args[0] not in bench.ecus:
            item.add_marker(pytest.mark.skip(
                reason=f"bench {bench.name!r} has no ECU {marker.args[0]!r} (has: {', '.join(bench.ecus)})"))
        if item.get_closest_marker("virtual_only") and marker and marker.args \
                and marker.args[0] in bench.ecus and bench.ecus[marker.args[0]].virtual is None:
            item.add_marker(pytest.mark.skip(reason=f"ECU {marker.args[0]!r} is not simulated on this bench"))
