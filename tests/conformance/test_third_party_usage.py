"""A third-party plugin's test module runs the suite in a few lines, in an isolated pytest
run with pytest-asyncio in its default strict mode (no project configuration)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PLUGIN_TESTS = """
from realtalk_testing.conformance import conformance_tests, openai_target

test_conformance = conformance_tests(openai_target(), scenarios=["basic_turn", "bad_input"])
"""


def test_conformance_tests_run_in_a_plain_pytest_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_plugin=PLUGIN_TESTS)
    result = pytester.runpytest(
        "-p", "asyncio", "-o", "asyncio_mode=strict",
        "-o", "asyncio_default_fixture_loop_scope=function", "-q",
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*PytestUnhandledCoroutineWarning*")
