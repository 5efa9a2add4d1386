"""Offline test kit for realtalk."""
