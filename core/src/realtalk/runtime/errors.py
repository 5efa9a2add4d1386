"""The one way a part of the runtime ends a session with a fatal error event."""

from __future__ import annotations


class Fatal(Exception):
    """Ends the session: an ``error(code, message, fatal=True)`` event, then the end."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


__all__ = ["Fatal"]
