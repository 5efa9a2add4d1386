"""Fixtures of the bridge tests (helpers live in ``_support``)."""

from __future__ import annotations

import pytest

from ._support import EchoApp


@pytest.fixture
def echo_app() -> EchoApp:
    return EchoApp()
