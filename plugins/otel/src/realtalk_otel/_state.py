"""The process's active tracing (None until ``instrument()``); hooks read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tracing import SessionTracing

active: SessionTracing | None = None
