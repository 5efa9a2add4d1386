"""realtalk plugin registering the fake provider."""
