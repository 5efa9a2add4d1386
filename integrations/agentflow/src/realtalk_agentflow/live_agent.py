"""``LiveAgent``: realtalk's runtime as the live node of an Agentflow graph.

A subclass of Agentflow's own ``LiveAgent``, so ``CompiledGraph.is_realtime()``,
``CompiledGraph.arealtime()`` and Agentflow's API server treat it as the live node they
know. Its `LiveAgent.arun()` runs one independent realtalk session per call: every
piece of session state (transcripts, the connection, the resumption handle, running tools)
lives in that call, never on the agent, so one compiled graph serves concurrent sessions.
Any realtalk provider works (Gemini, OpenAI Realtime, third-party plugins, ``FakeProvider``).

What stays Agentflow's: the system prompt with skills and memory (built by Agentflow's own
code from the run's state), the ``ToolNode`` that runs tools, the checkpointer that keeps
the thread, the ``CallbackManager`` lifecycle hooks and the publisher events, fired at the
same points as Agentflow's live node fires them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from tenxgraph.core.graph.base_agent import BaseAgent
from tenxgraph.core.graph.tool_node import ToolNode
from tenxgraph.core.realtime.live_agent import LiveAgent as AgentflowLiveAgent
from tenxgraph.core.state import AgentState
from tenxgraph.runtime.publisher.events import ContentType, EventType
from tenxgraph.utils import CallbackManager

from realtalk.agent import DEFAULT_TOOL_TIMEOUT
from realtalk.agent import LiveAgent as RealtalkLiveAgent
from realtalk.config import RealtimeConfig
from realtalk.provider import Provider
from realtalk.runtime.clock import Clock

from .config import narrow_overrides, to_agentflow_config, to_realtalk_config
from .events import ExtraEvents, to_agentflow
from .inputs import session_input
from .store import AgentflowThreadStore
from .tools import ToolNodeExecutor, tool_specs

log = logging.getLogger("realtalk_agentflow")

TURN_CONTENT = frozenset(
    {"audio_delta", "text_delta", "input_transcript", "output_transcript", "tool_call"}
)
"""Event types that open a turn (for Agentflow's on_turn_start / on_turn_end hooks)."""

_GEMINI_KWARGS = {"api_key": "api_key", "use_vertex_ai": "vertexai", "project": "project"}
_GEMINI_KWARGS["location"] = "location"


def _escape_braces(text: str) -> str:
    """Agentflow already filled the prompt's placeholders; realtalk must not fill them again."""
    return text.replace("{", "{{").replace("}", "}}")


class LiveAgent(AgentflowLiveAgent):
    """Agentflow's live node, run by realtalk.

    Args:
        model: The realtime model (any model a realtalk provider serves).
        realtime_config: Agentflow's ``RealtimeConfig`` or realtalk's.
        system_prompt: Agentflow's list of ``{"role": "system", "content": ...}`` parts.
        tool_node: A ``ToolNode`` (or the name of a graph node holding one).
        skills, memory: Agentflow's ``SkillConfig`` / ``MemoryConfig``.
        provider: A realtalk provider name or instance (``None``: the plugin that claims
            ``model``).
        provider_options: Handed to the provider untouched (for Gemini: ``api_key``,
            ``http_options``, ...). Agentflow's ``api_key``/``use_vertex_ai``/``project``/
            ``location`` keywords land here too.
        extra_events: ``"drop"`` (default) yields exactly Agentflow's event union;
            ``"pass"`` also yields realtalk's richer events (``session_started``,
            ``reconnected``, ``usage``, ...).
        tool_timeout: Default seconds per tool call (``None``: no limit).
        drain_timeout: Seconds a session waits, after its input closed, for the reply in
            flight.
        clock: realtalk's time source (tests pass a ManualClock).
    """

    def __init__(
        self,
        model: str,
        *,
        realtime_config: Any = None,
        system_prompt: list[dict[str, Any]] | None = None,
        tool_node: str | ToolNode | None = None,
        skills: Any = None,
        memory: Any = None,
        provider: str | Provider | None = None,
        provider_options: Mapping[str, Any] | None = None,
        extra_events: ExtraEvents = "drop",
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        drain_timeout: float = 30.0,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> None:
        # Agentflow's own __init__ is skipped on purpose: it refuses every non-Gemini model
        # and sets up a per-agent client and handle, which realtalk keeps per session.
        options = dict(provider_options or {})
        for key, option in _GEMINI_KWARGS.items():
            value = kwargs.pop(key, None)
            if value is not None and value is not False:
                options.setdefault(option, value)
        kwargs.pop("realtime_client_factory", None)
        if extra_events not in ("drop", "pass"):
            raise ValueError(f"extra_events must be 'drop' or 'pass', got {extra_events!r}")
        BaseAgent.__init__(
            self, model=model, system_prompt=system_prompt or [], tool_node=tool_node, **kwargs
        )
        self._provider_instance: Provider | None = None
        provider_name: str | None = None
        if isinstance(provider, str):
            provider_name = provider
        elif provider is not None:
            if not callable(getattr(provider, "connect", None)):
                raise TypeError(
                    "provider must be None, a realtalk provider name, or a provider instance "
                    f"with an async connect(setup) method, got {provider!r}"
                )
            self._provider_instance = provider
        tags: list[str] | None = None
        if realtime_config is None:
            base = RealtimeConfig(model=model, provider=provider_name, provider_options=options)
        else:
            tags = list(getattr(realtime_config, "tools_tags", None) or []) or None
            base = to_realtalk_config(
                realtime_config, provider=provider_name, provider_options=options
            )
        self._realtalk_config = base
        self._base_tags = tags
        # what Agentflow's server and inherited helpers read (tools_tags, system prompt)
        self.realtime_config = to_agentflow_config(base, tags)
        self.provider = str(provider_name or getattr(provider, "name", None) or base.provider or "")
        self.use_vertex_ai = bool(options.get("vertexai", False))
        self._tool_node = tool_node if isinstance(tool_node, ToolNode) else None
        self.tool_node_name = tool_node if isinstance(tool_node, str) else None
        self.extra_events: ExtraEvents = extra_events
        self.tool_timeout = tool_timeout
        self.drain_timeout = drain_timeout
        self.clock = clock
        self._setup_memory(memory)
        self._setup_skills(skills)

    @property
    def realtalk_config(self) -> RealtimeConfig:
        """The realtalk config every session starts from (before per-session overrides)."""
        return self._realtalk_config

    async def arun(  # type: ignore[override]
        self,
        input_queue: Any,
        config: dict[str, Any],
        state: AgentState | None = None,
        *,
        checkpointer: Any = None,
        callback_manager: CallbackManager | None = None,
        context_manager: Any = None,
    ) -> AsyncIterator[Any]:
        """One realtalk session: yields Agentflow events until the session ends."""
        state = state if state is not None else AgentState()
        callbacks = callback_manager if callback_manager is not None else CallbackManager()  # type: ignore[no-untyped-call]
        config = dict(config or {})
        config.setdefault("thread_id", uuid.uuid4().hex)
        source = session_input(input_queue)
        rt, tags, refused = narrow_overrides(
            self._realtalk_config,
            self._base_tags,
            config.get("realtime"),
            fixed_provider=self._provider_instance is not None,
        )
        if refused:
            log.warning(
                "session %s: overrides not allowed, ignored: %s", config["thread_id"], refused
            )
        tool_node = self._resolve_tool_node()
        schemas = await tool_node.all_tools(tags=set(tags) if tags else None) if tool_node else []
        af_rt = self.realtime_config.model_copy(
            update={"system_instruction": rt.system_instruction}
        )
        af_rt = await self._resolve_session_system_instruction(af_rt, state, config)
        instruction = af_rt.system_instruction
        rt = rt.merged(system_instruction=_escape_braces(instruction) if instruction else None)

        state = await self._fire_graph_start(callbacks, config, state)
        store = AgentflowThreadStore(checkpointer, config, state, context_manager)
        executor = (
            ToolNodeExecutor(tool_node, config=config, state=state, callback_manager=callbacks)
            if tool_node is not None
            else None
        )
        agent = RealtalkLiveAgent(
            rt,
            tools=tool_specs(schemas),
            provider=self._provider_instance,
            tool_timeout=self.tool_timeout,
        )
        app = agent.compile(
            shutdown_timeout=self.drain_timeout,
            clock=self.clock,
            thread_store=lambda _session_config: store,
            tool_executor=executor,
        )
        user_id = config.get("user_id")
        session_config = {"thread_id": str(config["thread_id"])}
        if user_id is not None:
            session_config["user_id"] = str(user_id)
        turn, turn_active = 0, False
        try:
            async for event in app.arealtime(source, session_config):
                if not turn_active and event.type in TURN_CONTENT:
                    turn, turn_active = turn + 1, True
                    state = await self._fire_turn_start(callbacks, config, state, turn)
                    store.state = state
                    if executor is not None:
                        executor.state = state
                if self._observe(event, config):
                    out = to_agentflow(event, self.extra_events)
                    if out is not None:
                        yield out
                if turn_active and event.type in ("turn_complete", "interrupted"):
                    state = await self._fire_turn_end(callbacks, config, state, turn)
                    turn_active = False
            if turn_active:
                state = await self._fire_turn_end(callbacks, config, state, turn)
            await self._fire_graph_end(callbacks, config, state, turn)
        finally:
            await app.aclose()

    def _observe(self, event: Any, config: dict[str, Any]) -> bool:
        """Publish Agentflow's realtime observability events; False drops ``event``."""
        kind = event.type
        if kind in ("input_transcript", "output_transcript") and event.finished:
            if not event.text.strip():
                return False  # Agentflow never yields an empty finished transcript
            self._publish_realtime(EventType.RESULT, config, ContentType.TRANSCRIPT, kind)
        elif kind == "interrupted":
            self._publish_realtime(EventType.INTERRUPTED, config, ContentType.AUDIO, "barge_in")
        elif kind == "go_away":
            self._publish_realtime(EventType.UPDATE, config, ContentType.UPDATE, "go_away")
        elif kind == "session_update":
            self._publish_realtime(EventType.UPDATE, config, ContentType.UPDATE, "session_resumed")
        return True


__all__ = ["LiveAgent"]
