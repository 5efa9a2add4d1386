"""Fixtures of the bridge tests (helpers live in ``_support``)."""

from __future__ import annotations

import os

import pytest

from ._cdp import find_chromium
from ._support import EchoApp


@pytest.fixture
def echo_app() -> EchoApp:
    return EchoApp()


@pytest.fixture
def needs_chromium() -> None:
    """Skip without Debian's chromium (fail instead under REALTALK_REQUIRE_BROWSER=1)."""
    if find_chromium() is not None:
        return
    message = "needs Debian's chromium (apt-get install chromium)"
    if os.environ.get("REALTALK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}; REALTALK_REQUIRE_BROWSER=1 requires it", pytrace=False)
    pytest.skip(message)
