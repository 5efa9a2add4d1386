"""The session runtime: what happens between ``arealtime`` and the provider.

``session`` drives one live session; the other modules each own one concern of it
(``reconnect`` backoff, ``tool_runner``, ``transcripts``, ``persistence``, ``prompt``,
``callbacks``, ``clock``) so their rules can be read and tested on their own.
"""

from .callbacks import LIFECYCLE, CallbackManager
from .clock import Clock, ManualClock, SystemClock
from .executor import DirectExecutor, ToolExecutor, ToolInvocation
from .persistence import CheckpointerStore
from .prompt import PromptError, build_system_instruction
from .reconnect import ReconnectPolicy
from .store import ThreadStore, ThreadStoreFactory

__all__ = [
    "LIFECYCLE",
    "CallbackManager",
    "CheckpointerStore",
    "Clock",
    "DirectExecutor",
    "ManualClock",
    "PromptError",
    "ReconnectPolicy",
    "SystemClock",
    "ThreadStore",
    "ThreadStoreFactory",
    "ToolExecutor",
    "ToolInvocation",
    "build_system_instruction",
]
