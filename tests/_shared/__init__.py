"""Helpers shared by several test packages (imported as ``_shared``)."""
