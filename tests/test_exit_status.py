"""The exit statuses of the README's table that no other test provokes: 0 (all passed), 3
(pytest's internal error) and 5 (no tests). 1 and 6: test_bench_faults.py; 2: test_time_budgets.py;
4: test_usage_errors.py and test_plugin.py."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_all_passed_exits_0(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    pass\n")
    assert pytester.runpytest("-p", "no:randomly").ret == pytest.ExitCode.OK == 0


def test_no_tests_exits_5(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def helper():\n    pass\n")
    assert pytester.runpytest("-p", "no:randomly").ret == pytest.ExitCode.NO_TESTS_COLLECTED == 5


def test_an_internal_error_exits_3(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_collection_finish(session):\n    raise RuntimeError('plugin bug')\n")
    pytester.makepyfile("def test_ok():\n    pass\n")
    assert pytester.runpytest("-p", "no:randomly").ret == pytest.ExitCode.INTERNAL_ERROR == 3
