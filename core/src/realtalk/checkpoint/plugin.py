"""The builtin checkpointer plugin: memory, SQLite and PostgreSQL by URL scheme.

``realtalk.plugins`` always loads this module, so the builtin schemes go through the same
hook as a third party's; the records point at the factories ``checkpointer_from_url`` uses,
so the registry and the direct path build identical checkpointers.
"""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import CheckpointerRecord, hookimpl
from .url import memory_from_url, postgres_from_url, sqlite_from_url

RECORDS = (
    CheckpointerRecord(
        scheme="memory",
        factory=memory_from_url,
        description="In-process store for tests and notebooks (memory://)",
    ),
    CheckpointerRecord(
        scheme="sqlite",
        factory=sqlite_from_url,
        description="One SQLite file, no server (sqlite:///relative.db, sqlite:////abs.db)",
    ),
    CheckpointerRecord(
        scheme="postgresql",
        factory=postgres_from_url,
        description="PostgreSQL via psycopg 3 (postgresql://user:pw@host/db?schema=realtalk)",
    ),
    CheckpointerRecord(
        scheme="postgres",
        factory=postgres_from_url,
        description="Alias of postgresql://",
    ),
)
"""What this plugin registers, one record per URL scheme."""


@hookimpl
def realtalk_register_checkpointers(register: Callable[[CheckpointerRecord], None]) -> None:
    """Register the builtin checkpointers."""
    for record in RECORDS:
        register(record)


__all__ = ["RECORDS", "realtalk_register_checkpointers"]
