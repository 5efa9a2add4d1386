"""JSON encoding shared by every checkpointer, so all three store and return the same values.

Metadata, tool arguments and tool results are normalised through JSON before they are
stored (tuples become lists, datetimes ISO strings, pydantic models dicts); a value that
cannot be represented in JSON is refused with a clear error instead of being half-stored.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from ..messages import Message, ThreadInfo
from .base import CheckpointerError, thread_id_of


def to_json_value(value: Any, what: str) -> Any:
    """``value`` as plain JSON data (dict/list/str/int/float/bool/None)."""
    try:
        return to_jsonable_python(value)
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise CheckpointerError(f"{what} is not JSON-serialisable: {exc}") from exc


def dumps(value: Any, what: str) -> str:
    """``value`` as a JSON text (see `to_json_value()`)."""
    return json.dumps(to_json_value(value, what), ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None) -> Any:
    """The JSON text ``text`` decoded (None stays None)."""
    return None if text is None else json.loads(text)


def message_to_json(message: Message) -> str:
    """A message as the JSON text of its pydantic model."""
    if not isinstance(message, Message):
        raise CheckpointerError(f"expected a realtalk Message, got {type(message).__name__}")
    return message.model_dump_json()


def message_from_json(data: str | bytes | dict[str, Any]) -> Message:
    """A stored message back as a `Message`."""
    if isinstance(data, dict):
        return Message.model_validate(data)
    return Message.model_validate_json(data)


def check_paging(offset: int, limit: int | None) -> None:
    """Refuse negative paging arguments instead of silently returning odd slices."""
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int, got {limit!r}")


def check_thread_matches(config: dict[str, Any], thread: ThreadInfo) -> str:
    """The config's thread id, refusing a ThreadInfo that names another thread."""
    thread_id = thread_id_of(config)
    if not isinstance(thread, ThreadInfo):
        raise CheckpointerError(f"expected a realtalk ThreadInfo, got {type(thread).__name__}")
    if thread.thread_id != thread_id:
        raise ValueError(
            f"ThreadInfo.thread_id {thread.thread_id!r} does not match the config's "
            f"thread_id {thread_id!r}"
        )
    return thread_id


def thread_to_json(thread: ThreadInfo) -> str:
    """A thread record as JSON (its metadata checked to be JSON data first)."""
    to_json_value(thread.metadata, "thread metadata")
    return thread.model_dump_json()
