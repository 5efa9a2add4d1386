"""Checkpointers: persistence of transcripts, thread metadata and the tool ledger.

``InMemoryCheckpointer`` (tests, notebooks), ``SqliteCheckpointer`` (one file, no server)
and ``PgCheckpointer`` (PostgreSQL; psycopg loads on first use) share one contract;
``checkpointer_from_url`` builds any of them from a URL.
"""

from .base import Checkpointer, CheckpointerError, LedgerEntry, thread_id_of
from .memory import InMemoryCheckpointer
from .postgres import PgCheckpointer
from .sqlite import SqliteCheckpointer
from .url import checkpointer_from_url, redact_url

__all__ = [
    "Checkpointer",
    "CheckpointerError",
    "InMemoryCheckpointer",
    "LedgerEntry",
    "PgCheckpointer",
    "SqliteCheckpointer",
    "checkpointer_from_url",
    "redact_url",
    "thread_id_of",
]
