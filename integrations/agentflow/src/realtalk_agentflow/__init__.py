"""realtalk as the live node of an Agentflow (10xgraph) graph.

Change one import line (``from realtalk_agentflow import AudioAgent``) and keep the graph,
the checkpointer, the tools, the callbacks and Agentflow's API server; realtalk runs each
live session (any provider, reconnection that finishes the turn, exactly-once tools,
sessions kept apart).
"""

from .audio_agent import AudioAgent
from .events import to_agentflow
from .inputs import AgentflowInput
from .live_agent import LiveAgent
from .store import AgentflowThreadStore
from .tools import ToolNodeExecutor

__all__ = [
    "AgentflowInput",
    "AgentflowThreadStore",
    "AudioAgent",
    "LiveAgent",
    "ToolNodeExecutor",
    "to_agentflow",
]
