"""The suite's guard against a test that leaves a variable in the test process's environment (tests/conftest.py):
such a test fails, and the next test sees the environment as it was."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit
pytest_plugins = ["pytester"]


def test_a_test_that_leaves_a_variable_fails_and_the_next_one_does_not_see_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import environment_left_as_found  # noqa: F401\n")
    pytester.makepyfile(
        """
        import os

        def test_leaves_one():
            os.environ["DAYU_GUARD_PROBE"] = "1"

        def test_sets_one_through_monkeypatch(monkeypatch):
            monkeypatch.setenv("DAYU_GUARD_PROBE_2", "1")

        def test_sees_neither():
            assert "DAYU_GUARD_PROBE" not in os.environ and "DAYU_GUARD_PROBE_2" not in os.environ
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*the test left its process's environment changed: DAYU_GUARD_PROBE"])
