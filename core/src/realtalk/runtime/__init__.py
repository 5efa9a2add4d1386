"""The session runtime: what happens between ``arealtime`` and the provider.

``session`` drives one live session; the other modules each own one concern of it
(``reconnect`` backoff, ``tool_runner``, ``transcripts``, ``persistence``, ``prompt``,
``callbacks``, ``clock``) so their rules can be read and tested on their own.
"""

from .callbacks import LIFECYCLE, CallbackManager
from .clock import Clock, ManualClock, SystemClock
from .prompt import PromptError, build_system_instruction
from .reconnect import ReconnectPolicy

__all__ = [
    "LIFECYCLE",
    "CallbackManager",
    "Clock",
    "ManualClock",
    "PromptError",
    "ReconnectPolicy",
    "SystemClock",
    "build_system_instruction",
]
