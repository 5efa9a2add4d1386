"""realtalk: provider-agnostic realtime audio agents."""
