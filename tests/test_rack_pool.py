"""A pool of racks (``--bench`` several files or a folder): each test takes one free rack that has
its ECU and capabilities, under a file lock, so two pytest-xdist workers never drive one rack."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import BenchFault, ConfigError
from bench.nightly.pool import RackPool
from bench.nightly.quarantine import QuarantineBook
from bench.nightly.racks import Rack, RackNeeds
from rack_suite import run_pytest, virtual_rack


def pool_of(tmp_path: Path, *racks: Path, quarantine: int = 3, wait: float = 5.0, worker: int = 0) -> RackPool:
    return RackPool([Rack(load_bench(path)) for path in racks], lock_dir=tmp_path / "locks", wait=wait,
                    book=QuarantineBook(tmp_path / "locks" / "runs" / "run.json", quarantine), worker=worker)


def test_a_taken_rack_is_not_taken_again_until_released(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, virtual_rack(tmp_path, "rack-a"), virtual_rack(tmp_path, "rack-b"))
    other = pool_of(tmp_path, *(rack.path for rack in pool.racks))  # another process of the run
    first = pool.take(RackNeeds())
    second = other.take(RackNeeds())
    assert {first.rack.name, second.rack.name} == {"rack-a", "rack-b"}
    released: list[float] = []
    threading.Timer(0.3, lambda: (released.append(time.monotonic()), first.release())).start()
    third = other.take(RackNeeds(benches=(first.rack.name,)))  # waits for the one its test may use
    assert third.rack.name == first.rack.name and time.monotonic() >= released[0]
    for lease in (second, third):
        lease.release()


def test_a_test_waits_at_most_rack_wait_for_a_busy_rack(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, virtual_rack(tmp_path, "rack-a"), virtual_rack(tmp_path, "rack-b"), wait=0.2)
    held = [pool.take(RackNeeds()), pool_of(tmp_path, *(rack.path for rack in pool.racks)).take(RackNeeds())]
    with pytest.raises(BenchFault, match=r"no free rack for this test within 0.2 s \(--rack-wait\); busy: 'rack-a'"):
        pool_of(tmp_path, *(rack.path for rack in pool.racks), wait=0.2).take(RackNeeds())
    for lease in held:
        lease.release()


def test_racks_are_chosen_by_ecu_bench_name_and_capability(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, virtual_rack(tmp_path, "body-rack", only="bcm"),
                   virtual_rack(tmp_path, "pt-rack", only="bms"))
    for needs, rack in ((RackNeeds(ecu="bms"), "pt-rack"), (RackNeeds(ecu="bcm"), "body-rack"),
                        (RackNeeds(capabilities=frozenset({"can_fd"})), "pt-rack")):
        lease = pool.take(needs)
        assert lease.rack.name == rack, needs
        lease.release()
    assert pool.why_none(RackNeeds(ecu="bms", benches=("body-rack",))) == (
        "no rack of the pool fits: bench 'body-rack' has no ECU 'bms'; needs bench body-rack, this is 'pt-rack'")


def test_workers_start_from_different_racks(tmp_path: Path) -> None:
    racks = (virtual_rack(tmp_path, "rack-a"), virtual_rack(tmp_path, "rack-b"))
    for worker, name in ((0, "rack-a"), (1, "rack-b"), (2, "rack-a")):
        lease = pool_of(tmp_path, *racks, worker=worker).take(RackNeeds())
        assert lease.rack.name == name
        lease.release()


def test_a_lone_virtual_bench_is_shared_and_a_lone_real_rack_is_locked(tmp_path: Path) -> None:
    assert not pool_of(tmp_path, virtual_rack(tmp_path, "alone")).locking
    assert pool_of(tmp_path, virtual_rack(tmp_path, "real", supply_url="socket://127.0.0.1:1")).locking


def test_quarantined_racks_are_left_out_until_none_is_left(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, virtual_rack(tmp_path, "rack-a"), virtual_rack(tmp_path, "rack-b"), quarantine=2)
    a, b = pool.racks
    pool.book.fault(a.path, a.name, "BenchFault: adapter gone")
    pool.book.healthy(a.path, a.name)  # a test passed on it: the faults in a row start again
    pool.book.fault(a.path, a.name, "BenchFault: adapter gone")
    assert not pool.book.quarantined()
    health = pool.book.fault(a.path, a.name, "BenchFault: supply not answering")
    assert health.quarantined == "2 bench faults in a row; the last: BenchFault: supply not answering"
    for _ in range(3):
        lease = pool.take(RackNeeds())
        assert lease.rack.name == "rack-b"
        lease.release()
    pool.book.fault(b.path, b.name, "x")
    pool.book.fault(b.path, b.name, "x")
    with pytest.raises(BenchFault, match=r"no rack left for this test: rack 'rack-a' is quarantined \(2 bench faults"):
        pool.take(RackNeeds())


def test_a_rack_where_the_test_faulted_is_avoided_while_another_can_run_it(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, virtual_rack(tmp_path, "rack-a"), virtual_rack(tmp_path, "rack-b"))
    a, b = pool.racks
    lease = pool.take(RackNeeds(), avoid=frozenset({a.path}))
    assert lease.rack is b
    lease.release()
    lease = pool.take(RackNeeds(benches=("rack-a",)), avoid=frozenset({a.path}))  # no other: later, same rack
    assert lease.rack is a
    lease.release()


def test_racks_that_do_not_fit_together_are_a_config_error(tmp_path: Path) -> None:
    first = virtual_rack(tmp_path / "one", "twin")
    second = virtual_rack(tmp_path / "two", "twin")
    other_kind = tmp_path / "three" / "other.yaml"
    other_kind.parent.mkdir()
    other_kind.write_text(first.read_text().replace("name: twin", "name: other")
                          .replace("    profile: single-bank", "    profile: ab"))
    with pytest.raises(ConfigError) as error:
        pool_of(tmp_path, first, second, other_kind)
    assert f"two racks are named 'twin': {first} and {second}" in str(error.value)
    assert "ECU 'bcm' is a single_bank (delta updates) ECU on 'twin'" in str(error.value)
    assert "but a ab (delta updates) ECU on 'other'" in str(error.value)


HOLDS = """\
import json, os, time
import pytest

@pytest.fixture
def held(bench):
    start = time.time()
    yield bench
    with open(os.environ["HOLDS"], "a") as record:
        record.write(json.dumps({"rack": bench.config.name, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                                 "start": start, "end": time.time()}) + "\\n")

@pytest.mark.bench("rack-a")
@pytest.mark.parametrize("n", range(4))
def test_on_rack_a(held, n):
    time.sleep(0.2)

@pytest.mark.parametrize("n", range(6))
def test_on_any_rack(held, n):
    time.sleep(0.2)
"""


def test_two_xdist_workers_with_two_racks_never_drive_one_rack_at_once(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    virtual_rack(tmp_path / "racks", "rack-a")
    virtual_rack(tmp_path / "racks", "rack-b")
    (tmp_path / "test_holds.py").write_text(HOLDS)
    monkeypatch.setenv("HOLDS", str(tmp_path / "holds.jsonl"))
    done = run_pytest(tmp_path, "-n", "2", "--bench", str(tmp_path / "racks"), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    holds = [json.loads(line) for line in (tmp_path / "holds.jsonl").read_text().splitlines()]
    assert len(holds) == 10 and {hold["worker"] for hold in holds} == {"gw0", "gw1"}
    for rack in ("rack-a", "rack-b"):
        spans = sorted((hold["start"], hold["end"]) for hold in holds if hold["rack"] == rack)
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), (rack, spans)
    assert sum(hold["rack"] == "rack-a" for hold in holds) >= 4  # the pinned tests, one after another


def test_a_test_goes_to_a_rack_with_its_ecu_and_an_ecu_no_rack_has_stops_the_run(tmp_path: Path) -> None:
    virtual_rack(tmp_path / "racks", "body-rack", only="bcm")
    virtual_rack(tmp_path / "racks", "pt-rack", only="bms")
    (tmp_path / "test_route.py").write_text("""\
import pytest

@pytest.mark.ecu("bms")
def test_bms(bench_config, ecu):
    assert bench_config.name == "pt-rack" and ecu.diagnostics.read_version() == "1.0.0"

@pytest.mark.ecu("bcm")
def test_bcm(bench_config):
    assert bench_config.name == "body-rack"

@pytest.mark.needs("gateway", "can_fd")
def test_fd(bench_config):
    assert bench_config.name == "pt-rack"

@pytest.mark.ecu("bcm")
@pytest.mark.needs("can_fd")
def test_nowhere(bench_config):
    pass
""")
    done = run_pytest(tmp_path, "--bench", str(tmp_path / "racks"), "-rs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 1 skipped" in done.stdout
    assert ("no rack of the pool fits: the bus of ECU 'bcm' is not CAN FD on bench 'body-rack'; "
            "bench 'pt-rack' has no ECU 'bcm'") in done.stdout
    (tmp_path / "test_route.py").write_text("import pytest\n@pytest.mark.ecu('abs')\ndef test_x(ecu):\n    pass\n")
    done = run_pytest(tmp_path, "--bench", str(tmp_path / "racks"))
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "no rack of the pool has such an ECU; rack 'body-rack'" in done.stderr
    assert "test_route.py::test_x: ECU 'abs'" in done.stderr
