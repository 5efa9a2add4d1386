"""Keep credentials out of logs, at every level and from every logger.

At ``--log-level debug`` the WebSocket libraries log each handshake line: uvicorn's
server side the client's ``Authorization: Bearer ...`` header and its ``bearer.<key>``
subprotocol, the providers' client side their own ``Authorization``/``api-key`` headers;
uvicorn's access log writes paths with their query (``?access_token=...``). A filter on
one logger misses records that other loggers propagate, and a filter on handlers misses
handlers added later, so the redaction runs where every record is made: a log record
factory, installed once per process by ``realtalk api``. It masks:

- the values of credential headers (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
  ``Set-Cookie``, ``X-Api-Key``, ``Api-Key``, ``X-Goog-Api-Key``), however they are
  printed (``name: value`` lines, dict or tuple reprs, JSON);
- ``Bearer <token>``, and tokens carried as subprotocols (``bearer.<token>``,
  ``openai-insecure-api-key.<key>``);
- token-carrying query parameters (``access_token``, ``token``, ``key``, ``api_key``... and
  the configured ``auth.query_param``);
- JWTs, and the literal values of secrets the server was configured with (API keys, the
  JWT secret, the agent's provider credentials), wherever they appear.

Messages, arguments, exception tracebacks and stack traces are all covered.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"

SECRET_HEADERS = (
    "proxy-authorization",
    "authorization",
    "set-cookie",
    "cookie",
    "x-goog-api-key",
    "x-api-key",
    "api-key",
)
"""Headers whose value is a credential."""

QUERY_PARAMS = ("access_token", "token", "key", "api_key", "apikey", "api-key", "password")
"""Query parameters whose value is a credential (``auth.query_param`` is added)."""

TOKEN_SUBPROTOCOLS = ("bearer", "openai-insecure-api-key")
"""Subprotocol prefixes that carry a token after a dot (``bearer.<token>``)."""

MIN_SECRET_CHARS = 6
"""Configured secrets shorter than this are not masked literally (they would mask words)."""

_FIXED = [
    (
        re.compile(
            r"(?i)\b(" + "|".join(re.escape(h) for h in SECRET_HEADERS) + r")"
            r"(['\"]?\s*[:=,]\s*(?:b?['\"])?)[^'\"\r\n]+"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)(\s+)[^\s'\",;]+"), rf"\1\2{MASK}"),
    (
        re.compile(
            r"(?i)\b(" + "|".join(re.escape(p) for p in TOKEN_SUBPROTOCOLS) + r")\.[^\s'\",;]+"
        ),
        rf"\1.{MASK}",
    ),
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), MASK),  # a JWT
]


class Redactor:
    """Masks credentials in text and in log records (see the module docstring)."""

    def __init__(self, params: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        self._params: set[str] = set(QUERY_PARAMS)
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        self.add(params, secrets)

    def add(self, params: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        """Also mask query parameters ``params`` and the literal ``secrets``."""
        with self._lock:
            self._params.update(p for p in params if p)
            self._secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_CHARS)
            names = "|".join(re.escape(p) for p in sorted(self._params))
            patterns = [(re.compile(rf"(?i)((?:^|[?&;])(?:{names})=)[^&;\s\"'#]+"), rf"\1{MASK}")]
            if self._secrets:
                literal = "|".join(re.escape(s) for s in sorted(self._secrets, key=len)[::-1])
                patterns.insert(0, (re.compile(literal), MASK))
            self._patterns = [*patterns, *_FIXED]

    def redact(self, text: str) -> str:
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def _arg(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, int | float):
            return value  # %d and %f need numbers; numbers hold no credentials
        text = str(value)
        cleaned = self.redact(text)
        return value if cleaned == text else cleaned

    def redact_record(self, record: logging.LogRecord) -> None:
        """Mask credentials in ``record`` in place (message, arguments, traceback)."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format: logging reports it when the record is handled
            message = None
        if message is not None and self.redact(message) != message:
            args = record.args
            if isinstance(args, tuple):
                record.args = tuple(self._arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: self._arg(v) for k, v in args.items()}
            if isinstance(record.msg, str):
                record.msg = self.redact(record.msg)
            try:
                still = record.getMessage()
            except Exception:
                still = message
            if self.redact(still) != still:  # a credential split across format and args
                record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = self.redact(text)
            if cleaned != text:
                record.exc_text = cleaned
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


_installed: Redactor | None = None
_install_lock = threading.Lock()


def install_log_redaction(params: Iterable[str] = (), secrets: Iterable[str] = ()) -> Redactor:
    """Mask credentials in every log record this process makes, from now on.

    Installs one log record factory (wrapping the current one) the first time; later
    calls add ``params`` (query parameters) and ``secrets`` (literal values) to it.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            redactor = Redactor()
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                redactor.redact_record(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = redactor
        _installed.add(params, secrets)
        return _installed


__all__ = ["MASK", "Redactor", "install_log_redaction"]
