"""Gemini plugin registration."""
