"""What the demo needs to know about a cassette before it starts: can it replay it at all,
which model it names, and which resumption handle its first connection presents.

Checked up front so ``realtalk demo --replay`` of a wrong file is one line and exit 2,
never a traceback or a session that fails half-way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .session import DemoError


@dataclass(frozen=True)
class CassetteInfo:
    """The parts of a Gemini cassette the demo's plan depends on."""

    model: str | None
    resume_handle: str | None
    """The handle connection 1 must present: the session resumes an earlier one."""


def _header(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except UnicodeDecodeError:
        raise DemoError(f"--replay {path}: not a cassette (not UTF-8 text)") from None
    except OSError as exc:
        raise DemoError(f"--replay {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return json.loads(first)
    except ValueError:
        raise DemoError(
            f"--replay {path}: not a cassette (a cassette is JSON lines, starting with a "
            'header such as {"cassette": 1, "provider": "gemini"})'
        ) from None


def inspect_cassette(path: Path) -> CassetteInfo:
    """Validate ``path`` as a cassette the demo replays; DemoError says why it is not."""
    if path.is_dir():
        raise DemoError(f"--replay {path}: is a directory, not a cassette file")
    if not path.is_file():
        raise DemoError(f"--replay {path}: no such file")
    header = _header(path)
    provider = header.get("provider") if isinstance(header, dict) else None
    if isinstance(provider, str) and provider != "gemini":
        raise DemoError(
            f"--replay {path}: a cassette for provider {provider!r}; the demo replays Gemini Live "
            'cassettes ("provider": "gemini"), such as the ones realtalk demo --record writes'
        )
    try:
        from realtalk_testing.cassette import Cassette, CassetteFormatError, ConnectLine
    except ImportError as exc:
        raise DemoError(
            f"the offline demo needs realtalk-testing ({exc}): pip install 'realtalk[demo]'"
        ) from None
    try:
        cassette = Cassette.load(path)
    except CassetteFormatError as exc:
        lineno, message = exc.errors[0] if exc.errors else (1, "invalid")
        more = f" (and {len(exc.errors) - 1} more problems)" if len(exc.errors) > 1 else ""
        raise DemoError(
            f"--replay {path}: not a valid cassette: line {lineno}: {message}{more}"
        ) from None
    handle = None
    first = cassette.lines_for(1)[:1]
    if first and isinstance(first[0], ConnectLine) and first[0].requires_handle:
        handle = first[0].handle
    return CassetteInfo(model=cassette.model, resume_handle=handle)


__all__ = ["CassetteInfo", "inspect_cassette"]
