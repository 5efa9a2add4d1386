"""Shared fixtures for the workspace's tests."""
