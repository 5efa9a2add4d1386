"""Registers the scripted ``fake`` provider with realtalk (entry point group ``realtalk``).

The registry builds providers without arguments, so the registered fake starts with no
script and loads one at its first ``connect``: from ``provider_options["script"]`` (steps,
a list of connections, or a path to a JSON script) or from the JSON file named by the
``REALTALK_FAKE_SCRIPT`` environment variable. Tests that want to inspect the fake
afterwards pass an instance instead: ``AudioAgent(..., provider=FakeProvider(script))``.
"""

from __future__ import annotations

from collections.abc import Callable

from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk.provider import Provider


def _make_provider() -> Provider:
    from .fake_provider import FakeProvider

    return FakeProvider()


@hookimpl
def realtalk_register_providers(register: Callable[[ProviderRecord], None]) -> None:
    from .fake_provider import DEFAULT_CAPABILITIES

    register(
        ProviderRecord(
            name="fake",
            factory=_make_provider,
            models=("fake-*",),
            capabilities=DEFAULT_CAPABILITIES,
            description="Scripted offline provider for tests (realtalk-testing)",
        )
    )
