"""The pytest plugin (entry point ``pytest11: bench``): options, markers, bench loading.

Hooks live here; fixtures in ``bench.fixtures``; reporting hooks (Allure labels, categories,
environment, outcome matrix) in ``bench.report.hooks``. A bench file that does not load stops the
run before any test, with the file, line and field of the problem.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.errors import ConfigError
from bench.scenarios.collect import CatalogFile, ScenarioItem, is_catalog

pytest_plugins = ("bench.fixtures", "bench.report.hooks")

DEFAULT_BENCH = Path("fixtures/benches/virtual.yaml")
BENCH_CONFIG_KEY = pytest.StashKey[BenchConfig]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--bench", metavar="PATH", default=None,
                    help=f"bench file (YAML); default: {DEFAULT_BENCH} under the rootdir")
    group.addoption("--scenario-sample", metavar="N", type=int, default=None,
                    help="run a reproducible random subset of N catalog scenarios (with --seed)")
    group.addoption("--seed", metavar="S", type=int, default=0, help="seed of --scenario-sample (default 0)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ecu(name): the test runs against this ECU (fixture `ecu`)")
    config.addinivalue_line("markers", "virtual_only: the test needs a simulated ECU (probes, NVM)")
    config.addinivalue_line("markers", "bench(*names): run only on benches with one of these names")


def bench_path(config: pytest.Config) -> Path:
    option = config.getoption("--bench")
    return Path(option) if option else config.rootpath / DEFAULT_BENCH


def loaded_bench(config: pytest.Config) -> BenchConfig:
    """The bench file, loaded once per run; a bad one stops the run (UsageError)."""
    if BENCH_CONFIG_KEY not in config.stash:
        try:
            config.stash[BENCH_CONFIG_KEY] = load_bench(bench_path(config))
        except ConfigError as exc:
            raise pytest.UsageError(f"bench configuration error:\n{exc}") from None
    return config.stash[BENCH_CONFIG_KEY]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_catalog(file_path):
        return CatalogFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Load the bench once, before any test runs; a test naming an ECU the bench does not
    have stops the run, since a silently smaller run would look like a pass."""
    sample_scenarios(config, items)
    if not any({"bench", "bench_config"} & set(getattr(item, "fixturenames", ())) for item in items):
        return
    bench = loaded_bench(config)
    unknown = []
    for item in items:
        name = requested_ecu(item)
        if name is not None and name not in bench.ecus:
            unknown.append(f"{item.nodeid}: ECU {name!r}")
            continue
        wanted = item.get_closest_marker("bench")
        if wanted and wanted.args and bench.name not in wanted.args:
            item.add_marker(pytest.mark.skip(reason=f"needs bench {' or '.join(wanted.args)}, this is {bench.name!r}"))
        if item.get_closest_marker("virtual_only") and name is not None and bench.ecus[name].virtual is None:
            item.add_marker(pytest.mark.skip(reason=f"ECU {name!r} is not simulated on bench {bench.name!r}"))
    if unknown:
        raise pytest.UsageError(
            f"bench {bench.name!r} ({bench.source}) has no such ECU; it has {', '.join(bench.ecus)}:\n  "
            + "\n  ".join(unknown))


def sample_scenarios(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--scenario-sample N --seed S``: keep N catalog scenarios chosen by S (same N and S,
    same scenarios, on any machine); other tests are not affected."""
    wanted = config.getoption("--scenario-sample")
    if wanted is None:
        return
    scenarios = sorted((item for item in items if isinstance(item, ScenarioItem)), key=lambda item: item.nodeid)
    keep = set(random.Random(config.getoption("--seed")).sample(scenarios, min(wanted, len(scenarios))))
    dropped = [item for item in scenarios if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]


def requested_ecu(item: pytest.Item) -> str | None:
    """The ECU a test asks for: indirect ``ecu`` parameter, else ``@pytest.mark.ecu(name)``."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and isinstance(callspec.params.get("ecu"), str):
        return callspec.params["ecu"]
    marker = item.get_closest_marker("ecu")
    return marker.args[0] if marker and marker.args else None
