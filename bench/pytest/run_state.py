"""What the pytest layer's modules share, kept in pytest's stash: the run's rack pool (loaded once),
what each test needs of a rack and the rack it holds during its current attempt, the run's time
budget and its tally of final reports.

A leaf of ``bench.pytest``: it imports no other module of the package, so the entry point
(``plugin``), the fixtures, the scenario items and the report and nightly hooks all read the
same state without importing one another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import BenchConfig, load_bench
from bench.config.models import EcuProfile
from bench.errors import BenchFault, ConfigError
from bench.nightly.budget import RunBudget
from bench.nightly.pool import Lease, RackPool
from bench.nightly.quarantine import QuarantineBook
from bench.nightly.racks import CAPABILITIES, Rack, RackNeeds, rack_files
from bench.nightly.run import run_info
from bench.nightly.verdicts import Tally
from bench.scenarios.catalog import Scenario
from bench.scenarios.requirements import REQUIREMENTS_DIR, RequirementCatalog, load_requirements
from bench.scenarios.runner import bench_scope

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
BUDGET = pytest.StashKey[RunBudget]()
"""The run's time budget (``--run-budget``), when it has one."""
TALLY = pytest.StashKey[Tally]()
"""The final reports counted by the process that owns the run."""
REQUIREMENTS = pytest.StashKey[RequirementCatalog]()
"""The project's requirement catalogs, loaded once."""
TAGS = pytest.StashKey[dict[str, pytest.MarkDecorator]]()
"""The catalog tags registered as markers so far, each with its marker."""
FIXTURE_NEEDS = {"sim": "virtual", "power": "power", "console": "console"}
"""Fixtures that skip a test on a rack without what they give, as the capability they need."""


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


def requirement_catalog(config: pytest.Config) -> RequirementCatalog:
    """The requirements under ``testcases/requirements`` of the rootdir, loaded once; a mistake in
    one of those files stops the run (UsageError)."""
    if REQUIREMENTS not in config.stash:
        try:
            config.stash[REQUIREMENTS] = load_requirements(config.rootpath / REQUIREMENTS_DIR)
        except ConfigError as exc:
            raise pytest.UsageError(f"requirement catalog error:\n{exc}") from None
    return config.stash[REQUIREMENTS]


def tag_markers(config: pytest.Config, tags: tuple[str, ...]) -> list[pytest.MarkDecorator]:
    """The markers of a catalog scenario's tags, each registered (``pytest --markers``, strict
    markers) the first time a catalog names it."""
    known = config.stash.setdefault(TAGS, {})
    for tag in tags:
        if tag not in known:
            config.addinivalue_line("markers", f"{tag}: tag of catalog scenarios")
            known[tag] = getattr(pytest.mark, tag)
    return [known[tag] for tag in tags]


def quarantine_book(config: pytest.Config) -> QuarantineBook:
    """The run's count of bench faults per rack: a file in the rack lock folder, named by the run."""
    return QuarantineBook(Path(config.getoption("rack_locks")) / "runs" / f"{run_info(config).id}.json",
                          config.getoption("rack_quarantine"))


def ecu_profiles(config: pytest.Config) -> dict[str, EcuProfile]:
    """Every ECU any rack of the run has, with its profile: what catalogs may name."""
    return rack_pool(config).ecu_profiles()


def requested_ecu(item: pytest.Item) -> str | None:
    """The ECU a test asks for: indirect ``ecu`` parameter, else ``@pytest.mark.ecu(name)``."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and isinstance(callspec.params.get("ecu"), str):
        return callspec.params["ecu"]
    marker = item.get_closest_marker("ecu")
    return marker.args[0] if marker and marker.args else None


def needs_of(item: pytest.Item) -> RackNeeds:
    """What ``item`` needs of its rack: its ECU, the racks its ``bench`` marker names, and the
    capabilities of ``needs`` markers, ``virtual_only``, its fixtures and (scenarios) its fault."""
    scenario = getattr(item, "scenario", None)  # a catalog scenario's item (``bench.pytest.collect``)
    if not isinstance(scenario, Scenario):
        scenario = None
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


def run_properties(config: pytest.Config) -> dict[str, str]:
    """The nightly side of ``environment.properties``: the pool, quarantined racks, retries, the
    budget, the shard."""
    properties: dict[str, str] = {}
    paths = bench_paths(config)
    if len(paths) > 1:  # instead of the first rack's name alone
        try:
            racks = [rack.describe() for rack in rack_pool(config).racks]
        except pytest.UsageError:  # the run stopped on a bad rack file, and said so
            racks = [str(path) for path in paths]
        properties["bench"] = f"pool of {len(racks)} racks: " + ", ".join(racks)
    quarantined = [f"{health.name}: {health.quarantined}"
                   for health in quarantine_book(config).racks().values() if health.quarantined]
    if quarantined:
        properties["racks.quarantined"] = "; ".join(quarantined)
    tally = config.stash.get(TALLY, Tally())
    if tally.retried:
        properties["bench-fault retries"] = (f"{len(tally.retried)} test(s) rerun "
                                             f"(--bench-fault-retries {config.getoption('bench_fault_retries')})")
    budget = config.stash.get(BUDGET, None)
    if budget is not None:
        properties["run budget"] = f"{budget.seconds:g} s" + (
            f", spent: {tally.over_budget} test(s) not started" if tally.over_budget else "")
    if config.getoption("shard_count") is not None:
        properties["shard"] = f"{config.getoption('shard_index')} of {config.getoption('shard_count')}"
    return properties
