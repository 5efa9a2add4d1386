"""Keep tokens out of logs.

uvicorn logs each request path *with its query string*, and browsers may pass their token
as ``?access_token=...``. This filter masks such parameters in every record of the
loggers it is installed on; ``realtalk api`` installs it on uvicorn's loggers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RedactTokens(logging.Filter):
    """Replaces the values of token-carrying query parameters with ``***``."""

    def __init__(self, params: Iterable[str] = ("access_token",)) -> None:
        super().__init__()
        names = "|".join(re.escape(p) for p in params)
        self._pattern = re.compile(rf"((?:^|[?&;])(?:{names})=)[^&;\s\"']+")

    def redact(self, text: str) -> str:
        return self._pattern.sub(r"\1***", text)

    def _clean(self, value: Any) -> Any:
        return self.redact(value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        return True


def install_log_redaction(
    params: Iterable[str] = ("access_token",), loggers: Iterable[str] = UVICORN_LOGGERS
) -> RedactTokens:
    """Install `RedactTokens` on ``loggers`` (idempotent per logger)."""
    redactor = RedactTokens(params)
    for name in loggers:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, RedactTokens)]
        logger.addFilter(redactor)
    return redactor


__all__ = ["RedactTokens", "install_log_redaction"]
