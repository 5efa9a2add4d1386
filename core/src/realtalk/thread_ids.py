"""What a thread id may be: one rule for the runtime, every checkpointer and the bridge.

A thread id is a storage key (a primary key in SQLite and PostgreSQL, part of every
stored message id), a log field and, through the bridge, something a client chooses. So
it is short and plain: ASCII letters and digits first, then letters, digits and
``. _ : @ -``, at most `THREAD_ID_MAX_LENGTH` characters. Every backend holds that
(PostgreSQL's btree entries stop near 2,700 bytes), no control character or newline can
reach a log line, and a path or URL built from one needs no escaping beyond ``:``/``@``.
Errors never echo a long id whole.
"""

from __future__ import annotations

import re

THREAD_ID_MAX_LENGTH = 256
"""The longest thread id accepted (characters; each is one ASCII byte)."""

THREAD_ID_RULE = (
    f"1-{THREAD_ID_MAX_LENGTH} characters: ASCII letters, digits and . _ : @ -, "
    "starting with a letter or digit"
)
"""The rule in words, as error messages and docs state it."""

_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_PREVIEW = 40


def preview(value: object) -> str:
    """``repr(value)``, cut to a few dozen characters with the full length noted."""
    text = repr(value)
    if len(text) <= _PREVIEW:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:_PREVIEW]}...{size}"


def thread_id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid thread id, or None when it is."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > THREAD_ID_MAX_LENGTH:
        return f"is {len(value)} characters long, the limit is {THREAD_ID_MAX_LENGTH}"
    if _THREAD_ID.fullmatch(value) is None:
        return f"must be {THREAD_ID_RULE}"
    return None


def check_thread_id(value: object, *, where: str = "thread_id") -> str:
    """``value`` if it is a valid thread id; else ValueError naming ``where`` and the rule."""
    problem = thread_id_problem(value)
    if problem is not None:
        raise ValueError(f"{where} {preview(value)} {problem}")
    assert isinstance(value, str)
    return value


def is_valid_thread_id(value: object) -> bool:
    """True if ``value`` is a valid thread id."""
    return thread_id_problem(value) is None


__all__ = [
    "THREAD_ID_MAX_LENGTH",
    "THREAD_ID_RULE",
    "check_thread_id",
    "is_valid_thread_id",
    "preview",
    "thread_id_problem",
]
