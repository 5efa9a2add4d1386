"""Checkpointers: persistence of transcripts, thread metadata and the tool ledger."""

from .base import Checkpointer, CheckpointerError, LedgerEntry, thread_id_of

__all__ = ["Checkpointer", "CheckpointerError", "LedgerEntry", "thread_id_of"]
