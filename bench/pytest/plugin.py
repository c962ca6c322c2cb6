"""The pytest plugin (entry point ``pytest11: bench``): options, markers, bench loading, and which
rack of the pool a test may run on.

Hooks live here; fixtures in ``bench.pytest.fixtures``; catalog scenarios as items in
``bench.pytest.collect``; reporting hooks (Allure labels, categories, environment, outcome
matrix) in ``bench.pytest.report_hooks``; the hooks of nightly runs (rack locks, bench-fault
retries, quarantine, time budgets, shards, exit codes) in ``bench.pytest.nightly_hooks``;
requirement traceability (marker, labels, compliance matrix) in ``bench.pytest.traceability_hooks``;
trends across runs (``--history``) in ``bench.pytest.trend_hooks``; what
they share (the rack pool, the rack a test holds) in ``bench.pytest.run_state``.
``--bench`` names one bench file, several, or a folder of them: the rack pool. A bench file that
does not load stops the run before any test, with the file, line and field of the problem; so
does a test naming an ECU that no rack has.
"""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from bench.nightly.pool import RackPool
from bench.nightly.racks import CAPABILITIES
from bench.pytest.campaign_items import CampaignItem
from bench.pytest.collect import CatalogFile, ScenarioItem, is_catalog, named_files
from bench.pytest.run_state import DEFAULT_BENCH, NEEDS, needs_of, rack_pool

pytest_plugins = ("bench.pytest.fixtures", "bench.pytest.report_hooks", "bench.pytest.nightly_hooks",
                  "bench.pytest.hints", "bench.pytest.traceability_hooks", "bench.pytest.trend_hooks")

RACK_FIXTURES = frozenset({"bench", "bench_config"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ota-hil-bench")
    group.addoption("--bench", metavar="PATH", action="append", default=None,
                    help="bench file (YAML), or a folder of them; repeat for a pool of racks, where each test "
                         f"takes a free rack that can run it (default: {DEFAULT_BENCH} under the rootdir)")
    group.addoption("--scenario-sample", metavar="N", type=int, default=None,
                    help="run a reproducible random subset of N catalog scenarios (with --seed)")
    group.addoption("--seed", metavar="S", type=int, default=0, help="seed of --scenario-sample (default 0)")
    group.addoption("--flash-progress", metavar="DIR", type=Path, default=None,
                    help="keep the flasher's progress records of software-file flashes in DIR (one <ECU>.json "
                         "each), so flash_software(..., resume=True) in a later run starts at the logical block "
                         "the last one stopped in (default: none kept; a flasher resumes its own attempts)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ecu(name): the test runs against this ECU (fixture `ecu`)")
    config.addinivalue_line("markers", "virtual_only: the test needs a simulated ECU (probes, NVM)")
    config.addinivalue_line("markers", "bench(*names): run only on benches (racks) with one of these names")
    config.addinivalue_line("markers", f"needs(*capabilities): run on a rack whose ECU has them: "
                                       f"{', '.join(CAPABILITIES)}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_catalog(file_path, named_files(parent.config)):
        return CatalogFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # noqa: ANN201 - a hook wrapper
    """A catalog that failed on its own mistake says so on its report: the run's exit status is
    then a usage error's (``bench.pytest.nightly_hooks``), also from a pytest-xdist worker."""
    report = yield
    if isinstance(collector, CatalogFile) and collector.usage_error and report.failed:
        report.usage_error = collector.usage_error
    return report


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


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """What start-up built (modules, the plugins, the bench's models) lives until the run ends:
    frozen before collection (``gc.freeze``), the garbage collector's full collections while the
    catalogs load no longer walk it (0.07 -> 0.02 s of CPU); see ``pytest_collection_finish``."""
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """And so does what collection built: thousands of catalog items. Frozen too, the collector's
    full collections during the run no longer walk it each time: 2.8 -> 0.9 s of CPU in a
    300-scenario sample (``benchmarks/README.md``). Garbage made later is collected as before;
    what is frozen is freed when its last reference goes, only a cycle among it waits for the
    end of the run (about 130 objects at the end of a whole catalog's collection)."""
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The run is over: what was frozen may be collected again (before pytest's own last
    collections), so a run inside another process (pytester's in-process runs) leaves nothing
    frozen there."""
    gc.unfreeze()


def no_such_ecu(pool: RackPool) -> str:
    if len(pool.racks) == 1:
        bench = pool.racks[0].config
        return f"bench {bench.name!r} ({bench.source}) has no such ECU; it has {', '.join(bench.ecus)}"
    return "no rack of the pool has such an ECU; " + "; ".join(
        f"rack {rack.describe()} has {', '.join(rack.config.ecus)}" for rack in pool.racks)


CAMPAIGN_SHARE = 20
"""``--scenario-sample N`` also keeps N / CAMPAIGN_SHARE campaign scenarios (5 of ``make run``'s 100)."""


def sample_scenarios(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--scenario-sample N --seed S``: keep N catalog scenarios chosen by S (same N and S,
    same scenarios, on any machine), and N / CAMPAIGN_SHARE (at least 1) campaign scenarios
    chosen by S apart from them; other tests are not affected."""
    wanted = config.getoption("--scenario-sample")
    if wanted is None:
        return
    scenarios = sorted((item for item in items if isinstance(item, ScenarioItem)), key=lambda item: item.nodeid)
    keep = set(random.Random(config.getoption("--seed")).sample(scenarios, min(wanted, len(scenarios))))
    campaigns = sorted((item for item in items if isinstance(item, CampaignItem)), key=lambda item: item.nodeid)
    keep |= set(random.Random(config.getoption("--seed")).sample(
        campaigns, min(max(1, wanted // CAMPAIGN_SHARE), len(campaigns))))
    dropped = [item for item in [*scenarios, *campaigns] if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]


def runs_on_a_rack(item: pytest.Item) -> bool:
    """Catalog scenarios and tests that use the bench (directly or through a fixture of it)."""
    return isinstance(item, (ScenarioItem, CampaignItem)) or bool(RACK_FIXTURES & set(getattr(item, "fixturenames", ())))


