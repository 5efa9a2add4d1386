"""Registration of the echo provider (entry point ``echo`` in the ``realtalk`` group).

Keep this module cheap to import: realtalk imports every plugin's module when it builds
its registry, so heavy SDKs belong in the factory, which runs only when a session opens.
"""

from __future__ import annotations

from collections.abc import Callable

from realtalk.hookspecs import ProviderRecord, hookimpl
from realtalk.provider import Provider

from .provider import CAPABILITIES


def _make_provider() -> Provider:
    from .provider import EchoProvider

    return EchoProvider()


@hookimpl
def realtalk_register_providers(register: Callable[[ProviderRecord], None]) -> None:
    register(
        ProviderRecord(
            name="echo",
            factory=_make_provider,
            models=("echo-*",),
            capabilities=CAPABILITIES,
            description="Plays your input back (example plugin)",
        )
    )
