"""The contract between the runtime and a provider plugin.

A provider is a factory of connections. A connection (``ProviderSession``) accepts neutral
input items and tool results, and yields neutral events until the connection ends; how it
ended is reported by raising `ProviderDisconnected` with a classification the
runtime keys on (rotation, transient, fatal), never by exception class.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from .config import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, RealtimeConfig
from .events import RealtimeEvent
from .inputs import InputItem
from .messages import Message

if TYPE_CHECKING:
    from .tools import ToolSpec


class ProviderCapabilities(BaseModel):
    """What a provider can do; the runtime adapts to it (resampling, reseeding, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_sample_rate: int = INPUT_SAMPLE_RATE
    output_sample_rate: int = OUTPUT_SAMPLE_RATE
    audio_input: bool = True
    audio_output: bool = True
    text_output: bool = True
    images: bool = False
    resumption: bool = False
    manual_activity: bool = False
    tool_cancellation: bool = False


class DisconnectKind(enum.StrEnum):
    """Why a connection ended, as the runtime needs to know it."""

    CLOSED = "closed"
    """We asked for the close (or the server closed normally after we finished)."""
    ROTATION = "rotation"
    """Planned by the provider (go_away): reconnect at once, resume."""
    TRANSIENT = "transient"
    """Network or server hiccup: reconnect with backoff."""
    REJECTED_HANDLE = "rejected_handle"
    """The resumption handle was refused: reconnect fresh, reseeded from transcripts."""
    FATAL = "fatal"
    """Reconnecting cannot help (bad request, auth, policy): end the session."""


_CLOSE_CODES: dict[int, DisconnectKind] = {
    1000: DisconnectKind.CLOSED,
    1001: DisconnectKind.ROTATION,
    1005: DisconnectKind.TRANSIENT,
    1006: DisconnectKind.TRANSIENT,
    1007: DisconnectKind.FATAL,
    1008: DisconnectKind.FATAL,
    1009: DisconnectKind.FATAL,
    1011: DisconnectKind.TRANSIENT,
    1012: DisconnectKind.TRANSIENT,
    1013: DisconnectKind.TRANSIENT,
    1014: DisconnectKind.TRANSIENT,
}


def classify_close_code(code: int | None) -> DisconnectKind:
    """Map a WebSocket close code to what the runtime should do about it.

    Unknown 1xxx codes and missing codes count as transient (retrying is the safe
    default); application codes 4000-4999 are fatal.
    """
    if code is None:
        return DisconnectKind.TRANSIENT
    if code in _CLOSE_CODES:
        return _CLOSE_CODES[code]
    if 4000 <= code <= 4999:
        return DisconnectKind.FATAL
    return DisconnectKind.TRANSIENT


class ProviderDisconnected(Exception):
    """Raised by ``ProviderSession.events()`` / ``send`` when the connection ended."""

    def __init__(self, kind: DisconnectKind, *, code: int | None = None, reason: str = "") -> None:
        self.kind = kind
        self.code = code
        self.reason = reason
        super().__init__(f"{kind.value} disconnect (code={code}): {reason}".rstrip(": "))


class ProviderError(Exception):
    """A provider could not be set up (missing credentials, unknown model, bad options)."""


@dataclass(frozen=True)
class SessionSetup:
    """Everything a provider needs to open one connection.

    ``resumption_handle`` is set when resuming; ``history`` is set when a fresh
    connection must be reseeded from persisted transcripts (the provider must add it
    as context without asking the model to reply).
    """

    config: RealtimeConfig
    system_instruction: str | None = None
    tools: Sequence[ToolSpec] = ()
    resumption_handle: str | None = None
    history: Sequence[Message] = ()
    thread_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ProviderSession(Protocol):
    """One live connection to a provider."""

    async def send(self, item: InputItem) -> None:
        """Send one input item; raises ProviderDisconnected if the connection is gone."""

    async def send_tool_result(
        self, call_id: str, name: str, result: Any, error: str | None = None
    ) -> None:
        """Answer a tool call; raises ProviderDisconnected if the connection is gone."""

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Events until the connection ends; the end raises ProviderDisconnected
        (``kind=CLOSED`` for a normal close after ``close()``)."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""


@runtime_checkable
class Provider(Protocol):
    """A factory of connections for one provider (e.g. Gemini Live)."""

    name: str
    capabilities: ProviderCapabilities

    async def connect(self, setup: SessionSetup) -> ProviderSession:
        """Open a connection; raises ProviderDisconnected if the server refuses it
        (``REJECTED_HANDLE`` when the resumption handle was refused) or
        ProviderError for configuration problems."""
        ...


__all__ = [
    "DisconnectKind",
    "Provider",
    "ProviderCapabilities",
    "ProviderDisconnected",
    "ProviderError",
    "ProviderSession",
    "SessionSetup",
    "classify_close_code",
]
