"""The pytest plugin (entry point ``pytest11: bench``): options, markers, bench loading, and which
rack of the pool a test may run on.

Hooks live here; fixtures in ``bench.fixtures``; reporting hooks (Allure labels, categories,
environment, outcome matrix) in ``bench.report.hooks``; the hooks of nightly runs (rack locks,
bench-fault retries, quarantine, time budgets, shards, exit codes) in ``bench.nightly.hooks``.
``--bench`` names one bench file, several, or a folder of them: the rack pool. A bench file that
does not load stops the run before any test, with the file, line and field of the problem; so
does a test naming an ECU that no rack has.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.config.models import EcuProfile
from bench.errors import BenchFault, ConfigError
from bench.nightly.pool import Lease, RackPool
from bench.nightly.quarantine import QuarantineBook
from bench.nightly.racks import CAPABILITIES, Rack, RackNeeds, rack_files
from bench.nightly.run import run_info
from bench.scenarios.collect import CatalogFile, ScenarioItem, is_catalog
from bench.scenarios.runner import bench_scope

pytest_plugins = ("bench.fixtures", "bench.report.hooks", "bench.nightly.hooks")

DEFAULT_BENCH = Path("fixtures/benches/virtual.yaml")
POOL_KEY = pytest.StashKey[RackPool]()
NEEDS = pytest.StashKey[RackNeeds]()
"""What a test needs of its rack (set at collection for the tests that run on one)."""
HELD = pytest.StashKey[Lease]()
"""The rack a test holds during its current attempt (kept after release: where it ran)."""
UNAVAILABLE = pytest.StashKey[BenchFault]()
"""Why a test got no rack; raised where the test asks for its bench."""
AVOID = pytest.StashKey[frozenset[Path]]()
"""Racks where this test already hit a bench fault: taken again only when no other can run it."""
RACK_FIXTURES = frozenset({"bench", "bench_config"})
FIXTURE_NEEDS = {"sim": "virtual", "power": "power", "console": "console"}
"""Fixtures that skip a test on a rack without what they give, as the capability they need."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--bench", metavar="PATH", action="append", default=None,
                    help="bench file (YAML), or a folder of them; repeat for a pool of racks, where each test "
                         f"takes a free rack that can run it (default: {DEFAULT_BENCH} under the rootdir)")
    group.addoption("--scenario-sample", metavar="N", type=int, default=None,
                    help="run a reproducible random subset of N catalog scenarios (with --seed)")
    group.addoption("--seed", metavar="S", type=int, default=0, help="seed of --scenario-sample (default 0)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ecu(name): the test runs against this ECU (fixture `ecu`)")
    config.addinivalue_line("markers", "virtual_only: the test needs a simulated ECU (probes, NVM)")
    config.addinivalue_line("markers", "bench(*names): run only on benches (racks) with one of these names")
    config.addinivalue_line("markers", f"needs(*capabilities): run on a rack whose ECU has them: "
                                       f"{', '.join(CAPABILITIES)}")


def bench_paths(config: pytest.Config) -> list[Path]:
    """The bench files of the run: ``--bench`` files, folders' YAML files, else the default."""
    options = config.getoption("--bench")
    return rack_files(Path(option) for option in options) if options else [config.rootpath / DEFAULT_BENCH]


def bench_path(config: pytest.Config) -> Path:
    """The first bench file of the run (its only one, unless ``--bench`` names a pool)."""
    paths = bench_paths(config)
    return paths[0] if paths else Path(config.getoption("--bench")[0])


def rack_pool(config: pytest.Config) -> RackPool:
    """The racks of the run, loaded once; a bad file or a pool that does not fit together stops
    the run (UsageError)."""
    if POOL_KEY not in config.stash:
        paths = bench_paths(config)
        if not paths:
            raise pytest.UsageError(f"--bench {' '.join(config.getoption('--bench'))}: no bench files "
                                    "(*.yaml, *.yml) there")
        try:
            racks = [Rack(load_bench(path)) for path in paths]
            config.stash[POOL_KEY] = RackPool(racks, lock_dir=Path(config.getoption("rack_locks")),
                                              book=quarantine_book(config), worker=run_info(config).worker,
                                              wait=config.getoption("rack_wait"))
        except ConfigError as exc:
            raise pytest.UsageError(f"bench configuration error:\n{exc}") from None
    return config.stash[POOL_KEY]


def quarantine_book(config: pytest.Config) -> QuarantineBook:
    """The run's count of bench faults per rack: a file in the rack lock folder, named by the run."""
    return QuarantineBook(Path(config.getoption("rack_locks")) / "runs" / f"{run_info(config).id}.json",
                          config.getoption("rack_quarantine"))


def ecu_profiles(config: pytest.Config) -> dict[str, EcuProfile]:
    """Every ECU any rack of the run has, with its profile: what catalogs may name."""
    return rack_pool(config).ecu_profiles()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_catalog(file_path):
        return CatalogFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Load the racks once, before any test runs. A test naming an ECU that no rack has stops the
    run, since a silently smaller run would look like a pass; a test no rack can run otherwise
    (``bench`` marker, a capability) is skipped, saying why."""
    sample_scenarios(config, items)
    users = [item for item in items if runs_on_a_rack(item)]
    if not users:
        return
    pool = rack_pool(config)
    unknown = []
    for item in users:
        needs = needs_of(item)
        if needs.ecu is not None and not any(needs.ecu in rack.config.ecus for rack in pool.racks):
            unknown.append(f"{item.nodeid}: ECU {needs.ecu!r}")
        elif not pool.able(needs):
            item.add_marker(pytest.mark.skip(reason=pool.why_none(needs)))
        elif item.get_closest_marker("skip") is None:  # a test marked skip takes no rack
            item.stash[NEEDS] = needs
    if unknown:
        raise pytest.UsageError(no_such_ecu(pool) + ":\n  " + "\n  ".join(unknown))


def no_such_ecu(pool: RackPool) -> str:
    if len(pool.racks) == 1:
        bench = pool.racks[0].config
        return f"bench {bench.name!r} ({bench.source}) has no such ECU; it has {', '.join(bench.ecus)}"
    return "no rack of the pool has such an ECU; " + "; ".join(
        f"rack {rack.describe()} has {', '.join(rack.config.ecus)}" for rack in pool.racks)


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


def runs_on_a_rack(item: pytest.Item) -> bool:
    """Catalog scenarios and tests that use the bench (directly or through a fixture of it)."""
    return isinstance(item, ScenarioItem) or bool(RACK_FIXTURES & set(getattr(item, "fixturenames", ())))


def needs_of(item: pytest.Item) -> RackNeeds:
    """What ``item`` needs of its rack: its ECU, the racks its ``bench`` marker names, and the
    capabilities of ``needs`` markers, ``virtual_only``, its fixtures and (scenarios) its fault."""
    scenario = item.scenario if isinstance(item, ScenarioItem) else None
    capabilities = {FIXTURE_NEEDS[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_NEEDS}
    if item.get_closest_marker("virtual_only"):
        capabilities.add("virtual")
    for marker in item.iter_markers("needs"):
        capabilities.update(marker.args)
    if scenario is not None and bench_scope(scenario)["gateway"]:
        capabilities.add("gateway")
    unknown = sorted(capabilities - CAPABILITIES.keys())
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: unknown capability {', '.join(map(repr, unknown))} in "
                                f"@pytest.mark.needs; known: {', '.join(CAPABILITIES)}")
    wanted = item.get_closest_marker("bench")
    return RackNeeds(ecu=scenario.ecu if scenario is not None else requested_ecu(item),
                     benches=tuple(wanted.args) if wanted else (), capabilities=frozenset(capabilities))


def take_rack(item: pytest.Item) -> None:
    """Take a rack for the current attempt of ``item``: keep the lease (``HELD``) or the bench
    fault that says why there was none (``UNAVAILABLE``) on the item."""
    needs = item.stash.get(NEEDS, None) or needs_of(item)
    try:
        lease = rack_pool(item.config).take(needs, avoid=item.stash.get(AVOID, frozenset()))
    except BenchFault as fault:
        item.stash[UNAVAILABLE] = fault
        return
    item.stash[HELD] = lease
    item.user_properties.append(("rack", lease.rack.name))


def held_rack(item: pytest.Item) -> BenchConfig:
    """The bench file of the rack ``item`` holds, taken as its set-up began (now, for a test that
    reached the bench in another way); raises the ``BenchFault`` of a test that got none."""
    if HELD not in item.stash and UNAVAILABLE not in item.stash:
        take_rack(item)
    if UNAVAILABLE in item.stash:
        raise item.stash[UNAVAILABLE]
    return item.stash[HELD].rack.config


def rack_label(item: pytest.Item) -> str:
    """The name of the rack ``item`` runs on, for its report; while it has none, the names of
    the racks that could run it."""
    if HELD in item.stash:
        return item.stash[HELD].rack.name
    pool = rack_pool(item.config)
    return ", ".join(rack.name for rack in pool.able(item.stash.get(NEEDS, None) or needs_of(item)))
