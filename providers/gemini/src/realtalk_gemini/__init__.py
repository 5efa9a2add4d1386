"""Gemini Live provider for realtalk."""
