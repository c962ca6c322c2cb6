"""Nightly runs on HIL racks: a pool of racks shared by pytest-xdist workers, bench-fault retries
and quarantine, time budgets, shards and exit codes that tell ECU failures from a broken bench.

``bench.nightly.hooks`` is the pytest side (loaded by ``bench.plugin``); the other modules hold
one concern each: ``racks`` (what a rack can do), ``pool`` (taking one under a lock),
``quarantine`` (racks that keep failing), ``verdicts`` (bench fault or ECU failure, exit codes),
``retry``, ``budget``, ``shards``, ``junit`` and ``merge`` (one Allure result folder from shards).
"""
