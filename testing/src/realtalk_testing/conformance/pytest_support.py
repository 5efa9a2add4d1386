"""Conformance as pytest tests: one parametrised test per (target, scenario)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest

from .scenarios import SCENARIOS, run_scenario
from .target import ConformanceTarget

__all__ = ["conformance_tests"]


def conformance_tests(
    *targets: ConformanceTarget, scenarios: Sequence[str] | None = None
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A pytest test function running every scenario for every target.

    Assign it to a module-level name starting with ``test``::

        from realtalk_testing.conformance import ConformanceTarget, conformance_tests

        test_my_provider = conformance_tests(ConformanceTarget(...))

    Scenarios without a cassette (or listed in ``target.skip``) are reported as skipped.
    """
    names = list(scenarios or SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise KeyError(f"unknown conformance scenario(s) {unknown}; known: {sorted(SCENARIOS)}")
    params = [pytest.param(t, n, id=f"{t.name}-{n}") for t in targets for n in names]

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("target", "scenario"), params)
    async def test_conformance(target: ConformanceTarget, scenario: str) -> None:
        outcome = await run_scenario(target, scenario)
        if outcome.status == "skipped":
            pytest.skip(outcome.detail)

    return test_conformance
