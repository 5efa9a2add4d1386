"""Whether an optional module is installed, without importing it: lets a command or a
URL name the extra to install before any work starts."""

from __future__ import annotations

import importlib.util


def installed(module: str) -> bool:
    """True when ``module`` can be imported (nothing is imported to find out)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


__all__ = ["installed"]
