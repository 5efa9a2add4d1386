"""Checkpointer URLs: parse them, build the builtin checkpointers, keep passwords out of errors.

``memory://``                      an `InMemoryCheckpointer` (one per call)
``sqlite:///relative/file.db``     a `SqliteCheckpointer` (path relative to the cwd)
``sqlite:////absolute/file.db``    ... with an absolute path (four slashes, as in SQLAlchemy)
``sqlite:///:memory:``             ... on a private in-memory SQLite database
``postgresql://user:pw@host/db``   a `PgCheckpointer` (``postgres://`` works too;
                                   ``?schema=name`` picks the schema, default ``realtalk``)

`checkpointer_from_url()` builds the builtin ones directly; the plugin registry
(``realtalk.plugins.open_checkpointer``) reaches the same factories through the
``realtalk.checkpoint.plugin`` module, so both paths behave the same.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .._installed import installed
from .base import Checkpointer, CheckpointerError

_REDACTED = "***"
_NETLOC_PASSWORD = re.compile(r"(?P<head>//[^/@:?#]*:)(?P<pw>[^/?#]*)(?P<tail>@)")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE
)

POSTGRES_SCHEMES = ("postgresql", "postgres")
SQLITE_MEMORY = ":memory:"


def redact_url(url: str) -> str:
    """``url`` with any password (``user:pw@`` or ``password=``) replaced by ``***``."""
    text = str(url)
    text = _NETLOC_PASSWORD.sub(lambda m: f"{m['head']}{_REDACTED}{m['tail']}", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{_REDACTED}", text)


def url_secrets(url: str) -> list[str]:
    """Every password spelled in ``url`` (raw and percent-decoded), longest first."""
    found: set[str] = set()
    for pattern in (_NETLOC_PASSWORD, _KEYWORD_PASSWORD):
        for match in pattern.finditer(str(url)):
            raw = match["pw"].strip("'")
            found.update(s for s in (raw, unquote(raw)) if s)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with every password of ``url`` replaced by ``***`` (for error messages)."""
    for secret in url_secrets(url):
        text = text.replace(secret, _REDACTED)
    return text


def url_scheme(url: str) -> str:
    """The lower-cased scheme of a checkpointer URL, or a clear error."""
    if not isinstance(url, str) or not url.strip():
        raise CheckpointerError(f"a checkpointer URL must be a non-empty string, got {url!r}")
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", url.strip())
    if match is None:
        raise CheckpointerError(
            f"not a checkpointer URL (expected scheme://...): {redact_url(url)!r}"
        )
    return match.group(1).lower()


def sqlite_path_from_url(url: str) -> str:
    """The database path a ``sqlite:`` URL names (``:memory:`` for an in-memory database)."""
    if url_scheme(url) != "sqlite":
        raise CheckpointerError(f"not a sqlite URL: {redact_url(url)!r}")
    parts = urlsplit(url.strip())
    if parts.query or parts.fragment:
        raise CheckpointerError(
            f"sqlite URLs take no query or fragment: {redact_url(url)!r} "
            "(use sqlite:///relative.db or sqlite:////absolute/path.db)"
        )
    if parts.netloc:
        raise CheckpointerError(
            f"sqlite URL has a host part {parts.netloc!r}: {redact_url(url)!r} "
            "(use sqlite:///relative.db or sqlite:////absolute/path.db)"
        )
    path = unquote(parts.path)
    if path in ("", "/") or path == "/" + SQLITE_MEMORY:
        return SQLITE_MEMORY
    # sqlite:///rel.db has path "/rel.db" (relative); sqlite:////abs.db has "//abs.db".
    return path[1:]


def postgres_url_and_schema(url: str) -> tuple[str, str | None]:
    """Split the realtalk-only ``schema`` query parameter off a PostgreSQL URL.

    libpq refuses unknown parameters, so ``schema`` must not reach it; every other
    parameter (``sslmode``, ``connect_timeout``, ...) is passed through untouched.
    """
    if url_scheme(url) not in POSTGRES_SCHEMES:
        raise CheckpointerError(f"not a postgresql URL: {redact_url(url)!r}")
    parts = urlsplit(url.strip())
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise CheckpointerError(f"bad query string in {redact_url(url)!r}: {exc}") from None
    schemas = [value for key, value in params if key == "schema"]
    if len(schemas) > 1:
        raise CheckpointerError(f"'schema' given more than once in {redact_url(url)!r}")
    rest = [(key, value) for key, value in params if key != "schema"]
    # libpq understands only postgresql:// and postgres://; normalise the spelling.
    cleaned = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return cleaned, (schemas[0] if schemas else None)


def memory_from_url(url: str) -> Checkpointer:
    """Factory for ``memory://`` (every call returns a new, empty store)."""
    from .memory import InMemoryCheckpointer

    if url_scheme(url) != "memory":
        raise CheckpointerError(f"not a memory URL: {redact_url(url)!r}")
    rest = url.strip()[len("memory:") :]
    if rest not in ("", "//", "///"):
        raise CheckpointerError(f"memory URLs take nothing after 'memory://': {redact_url(url)!r}")
    return InMemoryCheckpointer()


def sqlite_from_url(url: str) -> Checkpointer:
    """Factory for ``sqlite:`` URLs."""
    from .sqlite import SqliteCheckpointer

    return SqliteCheckpointer(sqlite_path_from_url(url))


def postgres_from_url(url: str) -> Checkpointer:
    """Factory for ``postgresql:`` / ``postgres:`` URLs (psycopg loads on first use)."""
    from .postgres import PgCheckpointer

    postgres_url_and_schema(url)  # validate now: a bad URL fails where it was written
    missing = [name for name in ("psycopg", "psycopg_pool") if not installed(name)]
    if missing:  # fail where the URL is opened, not at the first session
        raise CheckpointerError(
            f"a postgresql:// checkpointer needs {' and '.join(missing)}, which is not "
            "installed: pip install 'realtalk[postgres]'"
        )
    return PgCheckpointer(url)


BUILTIN_FACTORIES = {
    "memory": memory_from_url,
    "sqlite": sqlite_from_url,
    "postgresql": postgres_from_url,
    "postgres": postgres_from_url,
}
"""Scheme -> factory of the checkpointers that ship with realtalk."""


def checkpointer_from_url(url: str) -> Checkpointer:
    """Build a builtin checkpointer from its URL (no plugin registry involved).

    Unknown schemes raise `CheckpointerError`; third-party schemes are reached
    through the plugin registry instead (``realtalk.plugins.open_checkpointer``).
    """
    scheme = url_scheme(url)
    factory = BUILTIN_FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BUILTIN_FACTORIES))
        raise CheckpointerError(
            f"unknown checkpointer URL scheme {scheme!r} in {redact_url(url)!r} "
            f"(builtin schemes: {known}; others come from plugins)"
        )
    return factory(url)


__all__ = [
    "BUILTIN_FACTORIES",
    "checkpointer_from_url",
    "memory_from_url",
    "postgres_from_url",
    "postgres_url_and_schema",
    "redact_url",
    "scrub",
    "sqlite_from_url",
    "sqlite_path_from_url",
    "url_scheme",
    "url_secrets",
]
