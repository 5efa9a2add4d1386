"""Report how many inputs each fuzzer tried (for docs/reliability.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from ._budget import TRIED


@pytest.fixture(scope="session", autouse=True)
def _report_tried() -> Iterator[None]:
    yield
    path = os.environ.get("REALTALK_FUZZ_REPORT")
    if path and TRIED:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(dict(sorted(TRIED.items()))) + "\n")
