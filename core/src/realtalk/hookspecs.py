"""Plugin hook specifications (pluggy project ``realtalk``) and the records they register.

Registration hooks are synchronous and hand typed records to a ``register`` callback; the
async work lives on the objects the records build. Lifecycle hooks observe sessions; there
is deliberately no hook per audio chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from .provider import Provider, ProviderCapabilities

if TYPE_CHECKING:
    from .checkpoint.base import Checkpointer
    from .events import MetricsEvent, SessionMetricsEvent

PROJECT = "realtalk"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class ProviderRecord:
    """A provider offered by a plugin.

    ``factory`` builds the provider lazily (a provider's SDK loads only when a session
    opens); ``models`` are glob patterns of the model names it claims (``"gemini-*"``).
    ``plugin`` is filled in by the registry with the registering plugin's name.
    """

    name: str
    factory: Callable[[], Provider]
    models: tuple[str, ...] = ()
    capabilities: ProviderCapabilities = field(default_factory=ProviderCapabilities)
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class CheckpointerRecord:
    """A checkpointer offered by a plugin for a URL scheme (``memory``, ``sqlite``, ...)."""

    scheme: str
    factory: Callable[[str], Checkpointer]
    description: str = ""
    plugin: str = ""


class RealtalkSpecs:
    """Hook specifications of the ``realtalk`` plugin project."""

    @hookspec
    def realtalk_register_providers(self, register: Callable[[ProviderRecord], None]) -> None:
        """Register providers by calling ``register(ProviderRecord(...))``."""

    @hookspec
    def realtalk_register_checkpointers(
        self, register: Callable[[CheckpointerRecord], None]
    ) -> None:
        """Register checkpointers by calling ``register(CheckpointerRecord(...))``."""

    @hookspec
    def realtalk_session_start(self, thread_id: str, config: dict[str, Any]) -> None:
        """A session started."""

    @hookspec
    def realtalk_session_end(self, thread_id: str, reason: str) -> None:
        """A session ended."""

    @hookspec
    def realtalk_turn_start(self, thread_id: str) -> None:
        """The model started a turn."""

    @hookspec
    def realtalk_turn_end(self, thread_id: str, interrupted: bool) -> None:
        """The model's turn ended (completed or interrupted)."""

    @hookspec
    def realtalk_tool_call(
        self, thread_id: str, call_id: str, name: str, args: dict[str, Any]
    ) -> None:
        """A tool is about to run."""

    @hookspec
    def realtalk_tool_result(
        self, thread_id: str, call_id: str, name: str, result: Any, error: str | None
    ) -> None:
        """A tool finished."""

    @hookspec
    def realtalk_reconnect(self, thread_id: str, attempt: int, resumed: bool) -> None:
        """The session reconnected."""

    @hookspec
    def realtalk_error(self, thread_id: str, code: str, message: str, fatal: bool) -> None:
        """An error event was emitted."""

    @hookspec
    def realtalk_metrics(self, thread_id: str, metrics: MetricsEvent | SessionMetricsEvent) -> None:
        """Figures were measured: a ``metrics`` event at the end of each turn, then the
        ``session_metrics`` summary just before ``session_end`` (see ``realtalk.metrics``).
        Called synchronously, in event order; keep it quick."""


__all__ = [
    "PROJECT",
    "CheckpointerRecord",
    "ProviderRecord",
    "RealtalkSpecs",
    "hookimpl",
    "hookspec",
]
