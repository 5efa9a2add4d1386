"""``AudioAgent``: Agentflow's prebuilt audio agent, with realtalk as its live node.

The constructor takes what ``tenxgraph.prebuilt.agent.AudioAgent`` takes, plus realtalk's
``provider`` and ``provider_options``; ``.compile(...)`` returns a real Agentflow
``CompiledGraph`` (one live node, as Agentflow builds it) whose ``arealtime``/``realtime``
run realtalk's runtime and whose ``invoke``/``stream`` refuse, as Agentflow's do. It is a
subclass of Agentflow's class, so code checking ``isinstance`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tenxgraph.prebuilt.agent.audio import AudioAgent as AgentflowAudioAgent
from tenxgraph.utils.id_generator import BaseIDGenerator, DefaultIDGenerator

from realtalk.provider import Provider

from .events import ExtraEvents
from .live_agent import LiveAgent


class AudioAgent(AgentflowAudioAgent):  # type: ignore[type-arg]
    """Build and compile a realtime audio agent graph that realtalk runs."""

    def __init__(
        self,
        model: str,
        state: Any = None,
        context_manager: Any = None,
        publisher: Any = None,
        id_generator: BaseIDGenerator = DefaultIDGenerator(),  # noqa: B008 (Agentflow's default)
        container: Any = None,
        *,
        realtime_config: Any = None,
        system_prompt: list[dict[str, Any]] | None = None,
        tools: Iterable[Callable[..., Any]] | None = None,
        client: Any = None,
        pass_user_info_to_mcp: bool = False,
        skills: Any = None,
        memory: Any = None,
        live_node_name: str = "LIVE",
        provider: str | Provider | None = None,
        provider_options: Mapping[str, Any] | None = None,
        extra_events: ExtraEvents = "drop",
        **agent_kwargs: Any,
    ) -> None:
        # Agentflow's __init__ would build its own (Gemini-only) LiveAgent: the same steps
        # here, with realtalk's LiveAgent as the node.
        self._state = state
        self._context_manager = context_manager
        self._publisher = publisher
        self._id_generator = id_generator
        self._container = container
        self._live_node_name = live_node_name
        self._tool_node = self._build_tool_node(
            tools=list(tools or []), client=client, pass_user_info_to_mcp=pass_user_info_to_mcp
        )
        self._agent = LiveAgent(
            model,
            realtime_config=realtime_config,
            system_prompt=system_prompt,
            tool_node=self._tool_node,
            skills=skills,
            memory=memory,
            provider=provider,
            provider_options=provider_options,
            extra_events=extra_events,
            **agent_kwargs,
        )
        self._graph = None

    @property
    def live_agent(self) -> LiveAgent:
        """The graph's live node."""
        assert isinstance(self._agent, LiveAgent)
        return self._agent


__all__ = ["AudioAgent"]
