"""A pytest plugin for ``cpu_compare.py``: CPU time and CAN frames of every catalog scenario.

Loaded with ``-p cpu_probe`` (``benchmarks/`` on ``PYTHONPATH``) into a run of any revision of
the bench, so it touches only what every revision has: a scenario item's ``scenario`` and the
virtual bus's ``send`` (and ``send_isotp_frame``, by which the ISO-TP stacks send since f4113fb).
Per scenario it appends one JSON line to ``$CPU_PROBE_OUT``: the item's id, catalog, fault kind,
outcome, the process's CPU time (user + sys, all threads) spent in the test's call phase, and
the frames sent on virtual buses meanwhile (``send``, ``send_isotp_frame``, ``send_isotp_frames`` and
``send_isotp_block``; each hop counts: the tester's frame and the
gateway's copy of it are two). The call phase is bring-up, the scenario and teardown; a worker
runs one test at a time, so the process's CPU is the test's.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import time

import pytest

_frames = itertools.count()  # next() is atomic under the GIL: senders on many threads


def _counting(send):  # noqa: ANN001, ANN202
    def send_and_count(self, msg, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        next(_frames)
        return send(self, msg, *args, **kwargs)
    return send_and_count


_together = itertools.count()  # frames sent together, advanced by a block's length in C (under the GIL)


def _counting_together(send):  # noqa: ANN001, ANN202
    def send_and_count(self, frames, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if self._clock is None:  # a paced bus sends them one by one through send_isotp_frame
            collections.deque(itertools.islice(_together, len(frames)), maxlen=0)
        return send(self, frames, *args, **kwargs)
    return send_and_count


def _counting_block(send):  # noqa: ANN001, ANN202
    def send_and_count(self, *args):  # noqa: ANN001, ANN002, ANN202
        collections.deque(itertools.islice(_together, len(args[-1])), maxlen=0)  # the payloads, paced or not
        return send(self, *args)
    return send_and_count


def _sent() -> int:
    return _frames.__reduce__()[1][0] + _together.__reduce__()[1][0]  # without advancing the counters


def pytest_configure(config: pytest.Config) -> None:
    from bench.transport.virtual_bus import BenchVirtualBus
    BenchVirtualBus.send = _counting(BenchVirtualBus.send)
    if hasattr(BenchVirtualBus, "send_isotp_frame"):  # since f4113fb the ISO-TP stacks' frames go this way
        BenchVirtualBus.send_isotp_frame = _counting(BenchVirtualBus.send_isotp_frame)
    if hasattr(BenchVirtualBus, "send_isotp_block"):  # consecutive frames as payloads, together (send_isotp_frames too)
        BenchVirtualBus.send_isotp_block = _counting_block(BenchVirtualBus.send_isotp_block)
    elif hasattr(BenchVirtualBus, "send_isotp_frames"):  # blocks of consecutive frames, together (e164262)
        BenchVirtualBus.send_isotp_frames = _counting_together(BenchVirtualBus.send_isotp_frames)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201
    scenario = getattr(item, "scenario", None)
    cpu, frames = time.process_time(), _sent()
    outcome = yield
    if scenario is None or "CPU_PROBE_OUT" not in os.environ:
        return
    line = {"id": item.nodeid, "catalog": scenario.campaign, "fault": scenario.fault,
            "passed": outcome.excinfo is None, "cpu": time.process_time() - cpu, "frames": _sent() - frames}
    with open(os.environ["CPU_PROBE_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
