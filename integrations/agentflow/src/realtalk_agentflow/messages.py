"""Messages across the two frameworks: what a thread holds, either way round.

realtalk persists finished speech (``metadata={"modality": "audio"}``), typed text and tool
traffic as its own `realtalk.messages.Message`; an Agentflow thread holds Agentflow
``Message``s. `to_agentflow_message()` writes realtalk's into the thread in the shape an
Agentflow text graph reads (text blocks, ``tools_calls`` for tool calls, tool results with
their call id), keeping realtalk's message id so a repeat is recognised.
`to_realtalk_messages()`
reads a thread back for reseeding, including turns a text graph wrote; blocks realtalk cannot
seed (images, reasoning, ...) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tenxgraph.core.state import Message as AgentflowMessage
from tenxgraph.core.state.message_block import TextBlock as AfText
from tenxgraph.core.state.message_block import ToolCallBlock as AfToolCall
from tenxgraph.core.state.message_block import ToolResultBlock as AfToolResult

from realtalk.messages import ContentBlock, Message, TextBlock, ToolCallBlock, ToolResultBlock


def to_agentflow_message(message: Message) -> AgentflowMessage:
    """realtalk's message as an Agentflow ``Message`` (same id, role, metadata)."""
    blocks: list[Any] = []
    tools_calls: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            blocks.append(AfText(text=block.text))
        elif isinstance(block, ToolCallBlock):
            blocks.append(AfToolCall(id=block.id, name=block.name, args=dict(block.args)))
            tools_calls.append(
                {
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": json.dumps(block.args)},
                }
            )
        else:
            failed = block.error is not None
            blocks.append(
                AfToolResult(
                    call_id=block.id,
                    output=block.error if failed else block.result,
                    is_error=failed,
                    status="failed" if failed else "completed",
                )
            )
    metadata = dict(message.metadata)
    metadata.setdefault("source", "realtalk")
    return AgentflowMessage(
        message_id=message.id,
        role=message.role,
        content=blocks,
        tools_calls=tools_calls or None,
        timestamp=message.created_at.timestamp(),
        metadata=metadata,
    )


def _created_at(message: Any) -> datetime:
    stamp = getattr(message, "timestamp", None)
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp, UTC)
    return datetime.now(UTC)


def to_realtalk_messages(messages: Iterable[Any]) -> list[Message]:
    """A thread's Agentflow messages as realtalk's, oldest first, for reseeding."""
    names: dict[str, str] = {}
    out: list[Message] = []
    for message in messages:
        role = getattr(message, "role", None)
        if role not in ("user", "assistant", "tool", "system"):
            continue
        blocks: list[ContentBlock] = []
        seen_calls: set[str] = set()
        for block in getattr(message, "content", None) or []:
            kind = getattr(block, "type", None)
            if kind == "text" and block.text:
                blocks.append(TextBlock(text=block.text))
            elif kind == "tool_call":
                names[block.id] = block.name
                seen_calls.add(block.id)
                blocks.append(ToolCallBlock(id=block.id, name=block.name, args=dict(block.args)))
            elif kind == "tool_result":
                failed = bool(block.is_error)
                blocks.append(
                    ToolResultBlock(
                        id=str(block.call_id),
                        name=names.get(str(block.call_id), ""),
                        result=None if failed else block.output,
                        error=str(block.output) if failed else None,
                    )
                )
        for call in getattr(message, "tools_calls", None) or []:
            call_id = str(call.get("id", ""))
            function = call.get("function") or {}
            if not call_id or call_id in seen_calls:
                continue
            try:
                args = json.loads(function.get("arguments") or "{}")
            except (TypeError, ValueError):
                args = {}
            names[call_id] = str(function.get("name", ""))
            blocks.append(
                ToolCallBlock(
                    id=call_id, name=names[call_id], args=args if isinstance(args, dict) else {}
                )
            )
        if not blocks:
            continue
        out.append(
            Message(
                role=role,
                content=blocks,
                metadata=dict(getattr(message, "metadata", None) or {}),
                created_at=_created_at(message),
                id=str(message.message_id),
            )
        )
    return out


__all__ = ["to_agentflow_message", "to_realtalk_messages"]
