"""Turning streamed transcript fragments into finished utterances, sans I/O.

Providers stream transcripts as fragments (``finished=False``) and may or may not mark
the end of an utterance themselves. `TranscriptTracker` accumulates fragments and
closes an utterance when the provider says so or at the next natural boundary: the model
starting to answer closes the user's utterance; a tool call, ``turn_complete`` or
``interrupted`` closes both. Each closed utterance yields one ``finished=True`` event
carrying the whole text and one `Message` to persist, in the
order they happened. The tracker does no I/O, so its rules are tested directly.
"""

from __future__ import annotations

from typing import Literal

from ..events import (
    AudioDeltaEvent,
    InputTranscriptEvent,
    InterruptedEvent,
    OutputTranscriptEvent,
    RealtimeEvent,
    TextDeltaEvent,
    ToolCallEvent,
    TurnCompleteEvent,
)
from ..messages import Message

Output = RealtimeEvent | Message
"""What the tracker asks for: an event to emit or a message to persist (in order)."""


class Utterance:
    """Fragments of one utterance being spoken (or typed, for TEXT replies).

    ``parts`` is the shared empty tuple until the first fragment: a session keeps three
    of these open for its whole life, mostly empty, and an empty list per utterance
    would be one more object for every pass of the collector to walk."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] | tuple[()] = ()

    def add(self, fragment: str) -> None:
        if fragment:
            parts = self.parts
            if parts:
                parts.append(fragment)  # type: ignore[union-attr]
            else:
                self.parts = [fragment]

    @property
    def pending(self) -> bool:
        return any(p.strip() for p in self.parts)

    def take(self, whole: str | None = None) -> str | None:
        """The finished text (``whole`` when given, else the fragments joined); resets."""
        text = whole if whole and whole.strip() else "".join(self.parts)
        self.parts = ()
        text = text.strip()
        return text or None


class TranscriptTracker:
    """Per-session transcript state: the user's utterance, the agent's, and TEXT replies."""

    def __init__(self) -> None:
        self.user = Utterance()
        self.agent = Utterance()
        self.text = Utterance()

    def on_event(self, event: RealtimeEvent) -> list[Output]:
        """Outputs for one provider event (the event itself included, possibly rewritten)."""
        out: list[Output] = []
        if isinstance(event, InputTranscriptEvent):
            if event.finished:
                out += self.finish_user(event.text)
            else:
                self.user.add(event.text)
                out.append(event)
            return out
        if isinstance(event, OutputTranscriptEvent):
            out += self.finish_user() + self.finish_text()  # keep the agent's order
            if event.finished:
                out += self.finish_agent(event.text)
            else:
                self.agent.add(event.text)
                out.append(event)
            return out
        if isinstance(event, TextDeltaEvent):
            out += self.finish_user() + self.finish_agent()
            self.text.add(event.text)
            out.append(event)
            return out
        if isinstance(event, AudioDeltaEvent):
            out += self.finish_user()
            out.append(event)
            return out
        if isinstance(event, ToolCallEvent):
            out += self.finish_all()
            out.append(event)
            return out
        if isinstance(event, TurnCompleteEvent):
            out += self.finish_all()
            out.append(event)
            return out
        if isinstance(event, InterruptedEvent):
            out += self.finish_all(interrupted=True)
            out.append(event)
            return out
        out.append(event)
        return out

    def finish_user(self, whole: str | None = None) -> list[Output]:
        """Close the user's utterance (if any): a finished event and a message."""
        text = self.user.take(whole)
        if text is None:
            return []
        return [
            InputTranscriptEvent(text=text, finished=True),
            Message.text("user", text, modality="audio"),
        ]

    def finish_agent(self, whole: str | None = None, *, interrupted: bool = False) -> list[Output]:
        """Close the agent's spoken utterance (if any)."""
        text = self.agent.take(whole)
        if text is None:
            return []
        return [
            OutputTranscriptEvent(text=text, finished=True),
            _agent_message(text, "audio", interrupted),
        ]

    def finish_text(self, *, interrupted: bool = False) -> list[Output]:
        """Close a TEXT-modality reply (if any): persisted, no extra event."""
        text = self.text.take()
        if text is None:
            return []
        return [_agent_message(text, "text", interrupted)]

    def finish_all(self, *, interrupted: bool = False) -> list[Output]:
        """Close everything open, user first (a turn boundary)."""
        return (
            self.finish_user()
            + self.finish_agent(interrupted=interrupted)
            + self.finish_text(interrupted=interrupted)
        )


def _agent_message(text: str, modality: Literal["audio", "text"], interrupted: bool) -> Message:
    if interrupted:
        return Message.text("assistant", text, modality=modality, interrupted=True)
    return Message.text("assistant", text, modality=modality)


__all__ = ["Output", "TranscriptTracker", "Utterance"]
