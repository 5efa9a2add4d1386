"""The session runtime: what happens between ``arealtime`` and the provider.

``session.Session`` composes small parts, each owning one concern so its rules can be read
and tested on their own: ``supervisor`` (connections), ``input_pump`` (input),
``pipeline`` (provider events), ``tool_dispatch`` over ``tool_runner`` (tools),
``output`` (the user's stream), sharing ``link``, ``turns`` and ``reporter``; plus
``resumption``, ``transcripts``, ``reconnect`` backoff, ``prompt``, ``callbacks`` and
``clock``. The seams integrations plug into are exported here: `ThreadStore`
(persistence) and `ToolExecutor` (running a tool call). docs/architecture.md
draws the parts.
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
