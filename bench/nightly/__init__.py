"""Nightly runs on HIL racks: a pool of racks shared by pytest-xdist workers, bench-fault retries
and quarantine, time budgets, shards and exit codes that tell ECU failures from a broken bench.

The pytest side is in ``bench.pytest`` (``nightly_hooks``; ``retry``: bench-fault reruns
through pytest's protocol; ``junit``: bench faults as ``<error>``); the modules here hold one
concern each: ``racks`` (what a rack can do), ``pool`` (taking one under a lock), ``quarantine``
(racks that keep failing), ``verdicts`` (bench fault or ECU failure, exit codes), ``budget``,
``shards`` and ``merge`` (one Allure result folder from shards).
"""
