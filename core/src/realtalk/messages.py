"""Transcripts at rest: the shapes a checkpointer stores.

Raw audio and images are never part of a message; speech is stored as its transcript with
``metadata={"modality": "audio"}``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A stable, sortable-enough unique id for messages."""
    return uuid.uuid4().hex


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextBlock(_Block):
    type: Literal["text"] = "text"
    text: str


class ToolCallBlock(_Block):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(_Block):
    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    result: Any = None
    error: str | None = None


ContentBlock = Annotated[TextBlock | ToolCallBlock | ToolResultBlock, Field(discriminator="type")]

Role = Literal["user", "assistant", "tool", "system"]


class Message(BaseModel):
    """One entry of a thread's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: list[ContentBlock]
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_now)
    id: str = Field(default_factory=new_id)

    @classmethod
    def text(
        cls, role: Role, text: str, *, modality: Literal["audio", "text"] = "text", **meta: Any
    ) -> Message:
        """A text message; ``modality="audio"`` marks a speech transcript."""
        metadata = {"modality": modality, **meta}
        return cls(role=role, content=[TextBlock(text=text)], metadata=metadata)

    @property
    def text_content(self) -> str:
        """All text blocks joined (empty for tool messages)."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


class ThreadInfo(BaseModel):
    """A conversation thread: who owns it and its metadata (e.g. the resumption handle)."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)


__all__ = [
    "ContentBlock",
    "Message",
    "Role",
    "TextBlock",
    "ThreadInfo",
    "ToolCallBlock",
    "ToolResultBlock",
    "new_id",
]
