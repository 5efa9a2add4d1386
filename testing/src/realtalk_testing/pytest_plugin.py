"""pytest plugin: fixtures for offline realtalk tests."""
