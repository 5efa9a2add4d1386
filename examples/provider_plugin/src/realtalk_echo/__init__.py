"""realtalk-echo: an example provider plugin that echoes its input back."""

from .provider import EchoProvider, EchoSession

__all__ = ["EchoProvider", "EchoSession"]
