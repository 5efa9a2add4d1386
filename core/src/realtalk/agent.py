"""The user-facing surface: build an agent once, compile it, run live sessions.

``AudioAgent(model, ...)`` (or the lower-level ``LiveAgent(realtime_config, ...)``)
states what the agent is: model, tools, prompt. ``.compile(...)`` binds it to a
checkpointer and callbacks and returns a `RealtimeApp`, which is reusable and safe
under concurrency: every ``arealtime`` call gets its own
`Session`, and nothing of one call is shared with
another. Live agents are driven only by ``arealtime`` / ``realtime``; the turn-based
methods (``invoke``, ``stream``, ...) refuse with a message saying so.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .config import RealtimeConfig
from .events import RealtimeEvent
from .provider import Provider
from .provider_binding import pin_session_provider
from .runtime.callbacks import CallbackManager
from .runtime.clock import Clock, SystemClock
from .runtime.executor import ToolExecutor
from .runtime.output import DEFAULT_OUTPUT_LIMIT
from .runtime.persistence import CheckpointerStore, missing_methods
from .runtime.prompt import SystemPrompt, build_system_instruction, check_prompt
from .runtime.session import Session
from .runtime.store import ThreadStoreFactory
from .thread_ids import check_thread_id
from .tools import ToolSpec, tool_specs

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds one tool call may run when neither the tool nor the agent says otherwise."""

SESSION_CONFIG_KEYS = frozenset(
    {"thread_id", "user_id", "tools", "realtime_config", "metadata", "run_id", "recursion_limit"}
)
"""Keys of an ``arealtime`` config besides per-session realtime overrides."""

_UNSUPPORTED_COMPILE_ARGS = {
    "media_store": "realtime media (images, video frames) is streamed through "
    "LiveInputQueue.send_image() and never stored",
    "interrupt_before": "a live session has no graph steps to interrupt; the provider owns "
    "the turn loop",
    "interrupt_after": "a live session has no graph steps to interrupt; the provider owns "
    "the turn loop",
}

_TURN_BASED = (
    "is not available on a realtime agent: the provider owns the turn loop. Drive it with "
    "`async for event in app.arealtime(queue, {'thread_id': ...})` (or app.realtime(...) "
    "from synchronous code)"
)


class LiveAgent:
    """A realtime agent: a realtime config plus tools and prompt.

    Args:
        realtime_config: What every session of this agent connects with.
        tools: Functions (plain or ``@tool``-decorated) or ``ToolSpec``s.
        system_prompt: A string or a list of strings / ``{"role": "system", "content":
            ...}`` parts; ``{field}`` placeholders are filled from the session state.
        skills: Skills listed in the system instruction (strings, or dicts/objects with
            ``name``, ``description``, ``instructions``).
        memory: Text, a list, a mapping, or a callable ``state -> text`` evaluated at
            connect time.
        provider: ``None`` (ask the plugins which provider serves the model), a provider
            name, or a provider instance (e.g. ``FakeProvider``).
        tool_timeout: Default seconds per tool call (a tool's own ``timeout`` wins;
            ``None`` means no limit).
    """

    def __init__(
        self,
        realtime_config: RealtimeConfig,
        *,
        tools: Sequence[Callable[..., Any] | ToolSpec] = (),
        system_prompt: SystemPrompt | None = None,
        skills: Any = None,
        memory: Any = None,
        provider: str | Provider | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        if not isinstance(realtime_config, RealtimeConfig):
            raise TypeError(
                f"realtime_config must be a RealtimeConfig, got {type(realtime_config).__name__}"
            )
        self.provider_instance: Provider | None = None
        if isinstance(provider, str):
            if realtime_config.provider not in (None, provider):
                raise ValueError(
                    f"provider={provider!r} contradicts realtime_config.provider="
                    f"{realtime_config.provider!r}"
                )
            realtime_config = realtime_config.merged(provider=provider)
        elif provider is not None:
            if not callable(getattr(provider, "connect", None)):
                raise TypeError(
                    "provider must be None, a provider name, or a provider instance with "
                    f"an async connect(setup) method, got {provider!r}"
                )
            self.provider_instance = provider
        if tool_timeout is not None and tool_timeout <= 0:
            raise ValueError(f"tool_timeout must be positive or None, got {tool_timeout!r}")
        self.realtime_config = realtime_config
        self.tools: list[ToolSpec] = tool_specs(tools)
        self.system_prompt = system_prompt
        self.skills = skills
        self.memory = memory
        self.tool_timeout = tool_timeout
        # fail at build time on a malformed prompt rather than at the first session
        check_prompt(system_prompt, skills)

    @property
    def model(self) -> str:
        return self.realtime_config.model

    def compile(
        self,
        checkpointer: Any = None,
        store: Any = None,
        callback_manager: Any = None,
        shutdown_timeout: float = 30.0,
        *,
        clock: Clock | None = None,
        rng: Callable[[], float] | None = None,
        thread_store: ThreadStoreFactory | None = None,
        tool_executor: ToolExecutor | None = None,
        output_limit: int | None = DEFAULT_OUTPUT_LIMIT,
        **unsupported: Any,
    ) -> RealtimeApp:
        """Bind the agent to persistence and callbacks; returns the runnable app.

        Args:
            checkpointer: Persists transcripts, resumption handles and the tool ledger
                (an object with the checkpointer methods, or a URL such as
                ``"sqlite:///threads.db"`` opened through the plugins).
            store: A long-term memory store, kept on the app as ``app.store`` and given
                to ``memory`` callables that take a ``store`` parameter.
            callback_manager: A `CallbackManager` or
                any object with ``on_*`` lifecycle methods.
            shutdown_timeout: Seconds a session waits, after its queue closes, for the
                reply in flight to finish.
            clock: Time source for backoff, deadlines and timeouts (tests pass a
                `ManualClock`).
            rng: Random source in ``[0, 1)`` for reconnect jitter (tests fix it).
            thread_store: Builds each session's
                `ThreadStore` from its config, replacing
                the default store over ``checkpointer`` (an integration's storage).
            tool_executor: Runs tool calls (a
                `ToolExecutor`); the default calls the
                tool's function. Ledger, timeouts and cancellation stay the runtime's.
            output_limit: Events a session holds for a consumer that fell behind; at the
                limit it stops reading from the provider until half were taken (memory
                stays bounded, nothing is dropped). ``None``: unbounded.

        Raises:
            ProviderError: No installed provider serves the model (or the provider name),
                unless the agent was given a provider instance.
        """
        for name in unsupported:
            why = _UNSUPPORTED_COMPILE_ARGS.get(name)
            if why is not None:
                raise TypeError(f"compile() of a realtime agent does not accept {name}: {why}")
        if unsupported:
            raise TypeError(
                f"compile() got unexpected keyword argument(s): {', '.join(sorted(unsupported))}"
            )
        if shutdown_timeout < 0:
            raise ValueError(f"shutdown_timeout must not be negative, got {shutdown_timeout!r}")
        if thread_store is not None and not callable(thread_store):
            raise TypeError("thread_store must be a callable: session config -> ThreadStore")
        if tool_executor is not None and not callable(getattr(tool_executor, "execute", None)):
            raise TypeError("tool_executor must have an async execute(invocation) method")
        if output_limit is not None and (
            isinstance(output_limit, bool) or not isinstance(output_limit, int) or output_limit < 1
        ):
            raise ValueError(f"output_limit must be a positive int or None, got {output_limit!r}")
        if self.provider_instance is None:
            # An unknown model or provider name fails here, not at the first session. Only
            # the plugin registry is consulted: the provider's SDK still loads per session.
            from .plugins import resolve_provider

            resolve_provider(self.realtime_config.model, self.realtime_config.provider)
        return RealtimeApp(
            self,
            checkpointer=checkpointer,
            store=store,
            callback_manager=CallbackManager.of(callback_manager),
            shutdown_timeout=float(shutdown_timeout),
            clock=clock or SystemClock(),
            rng=rng,
            thread_store=thread_store,
            tool_executor=tool_executor,
            output_limit=output_limit,
        )


class AudioAgent(LiveAgent):
    """Audio-to-audio agent builder: ``AudioAgent(model, realtime_config=..., tools=...)``.

    ``realtime_config`` defaults to ``RealtimeConfig(model=model)``; when given, its
    model must be ``model``.
    """

    def __init__(
        self,
        model: str,
        realtime_config: RealtimeConfig | None = None,
        tools: Sequence[Callable[..., Any] | ToolSpec] = (),
        system_prompt: SystemPrompt | None = None,
        skills: Any = None,
        memory: Any = None,
        provider: str | Provider | None = None,
        *,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        if realtime_config is None:
            realtime_config = RealtimeConfig(model=model)
        elif realtime_config.model != model.strip():
            raise ValueError(
                f"AudioAgent model {model!r} differs from realtime_config.model "
                f"{realtime_config.model!r}: pass the same model (or omit realtime_config)"
            )
        super().__init__(
            realtime_config,
            tools=tools,
            system_prompt=system_prompt,
            skills=skills,
            memory=memory,
            provider=provider,
            tool_timeout=tool_timeout,
        )


class _Instruction:
    """A session's system instruction, rebuilt at every (re)connect from the agent as it
    is then. A slotted object rather than a closure: one object per session, not five."""

    __slots__ = ("app", "base", "state")

    def __init__(self, app: RealtimeApp, base: str | None, state: Any) -> None:
        self.app, self.base, self.state = app, base, state

    def __call__(self) -> str | None:
        app = self.app
        agent = app.agent
        return build_system_instruction(
            system_instruction=self.base,
            system_prompt=agent.system_prompt,
            skills=agent.skills,
            memory=agent.memory,
            state=self.state,
            store=app.store,
        )


class RealtimeApp:
    """A compiled live agent. Reusable; each ``arealtime`` call is an independent session."""

    def __init__(
        self,
        agent: LiveAgent,
        *,
        checkpointer: Any,
        store: Any,
        callback_manager: CallbackManager,
        shutdown_timeout: float,
        clock: Clock,
        rng: Callable[[], float] | None,
        thread_store: ThreadStoreFactory | None = None,
        tool_executor: ToolExecutor | None = None,
        output_limit: int | None = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.agent = agent
        self.output_limit = output_limit
        self.thread_store = thread_store
        self.tool_executor = tool_executor
        self.store = store
        self.callback_manager = callback_manager
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock
        self.rng = rng
        self._checkpointer_url: str | None = None
        self._checkpointer: Any = None
        if isinstance(checkpointer, str):
            self._checkpointer_url = checkpointer
        elif checkpointer is not None:
            missing = missing_methods(checkpointer)
            if missing:
                raise TypeError(
                    f"checkpointer {type(checkpointer).__name__} lacks {', '.join(missing)}: "
                    "pass a realtalk checkpointer or a URL such as 'sqlite:///threads.db'"
                )
            self._checkpointer = checkpointer
        self._sessions: set[Session] = set()

    @property
    def checkpointer(self) -> Any:
        """The checkpointer (opened on first use when compiled with a URL)."""
        if self._checkpointer is None and self._checkpointer_url is not None:
            from .plugins import open_checkpointer

            self._checkpointer = open_checkpointer(self._checkpointer_url)
        return self._checkpointer

    @property
    def active_sessions(self) -> int:
        """Sessions running right now."""
        return len(self._sessions)

    async def arealtime(
        self,
        queue: Any,
        config: Mapping[str, Any] | None = None,
        state: Any = None,
        *,
        event_sink: Callable[[RealtimeEvent], bool] | None = None,
    ) -> AsyncGenerator[RealtimeEvent, None]:
        """Run one live session: yields events until the session ends.

        ``queue`` is a `LiveInputQueue` (anything ``async for``
        can read input items from). ``config`` carries ``thread_id`` (generated when
        absent), optionally ``user_id``, ``tools`` (names: narrows the agent's tools),
        and per-session overrides of any ``RealtimeConfig`` field (``voice``, ``vad``,
        ...). ``state`` fills ``{field}`` placeholders of the system prompt. The first
        event is ``session_started``, the last ``session_ended``. Bad arguments raise
        before the session starts.

        ``event_sink`` is for servers that forward events without a task hop (the
        bridge writes model audio straight to its socket): while this generator waits
        with nothing queued, each new event is offered to ``event_sink(event)`` from the
        session's own task, and an event for which it returns True is not yielded. It
        must not block or raise; events it declines come through the generator, in order.
        """
        if event_sink is not None and not callable(event_sink):
            raise TypeError(f"event_sink must be callable, got {type(event_sink).__name__}")
        session = self._new_session(queue, config, state)
        self._sessions.add(session)
        session.out.sink = event_sink
        try:
            # drains the session's buffer directly (no inner generator per event)
            session.start()
            out = session.out  # (not its bound methods: two objects per live session)
            while True:
                try:
                    event = out.next_ready()
                except StopAsyncIteration:
                    break
                if event is None:
                    await out.wait()
                    continue
                yield event
        finally:
            await session.aclose()
            self._sessions.discard(session)

    def realtime(
        self,
        queue: Any,
        config: Mapping[str, Any] | None = None,
        state: Any = None,
    ) -> Iterator[RealtimeEvent]:
        """Synchronous ``arealtime``: runs a private event loop and yields events.

        Raises RuntimeError when called inside a running event loop (use ``arealtime``).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "realtime() cannot run inside a running event loop: use "
                "`async for event in app.arealtime(queue, config)` instead"
            )
        return self._sync_events(queue, config, state)

    def _sync_events(
        self, queue: Any, config: Mapping[str, Any] | None, state: Any
    ) -> Iterator[RealtimeEvent]:
        loop = asyncio.new_event_loop()
        agen = self.arealtime(queue, config, state)
        try:
            while True:
                try:
                    event = loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    break
                yield event
        finally:
            try:
                loop.run_until_complete(agen.aclose())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def aclose(self) -> None:
        """End every running session and release what the app opened itself."""
        sessions = list(self._sessions)
        await asyncio.gather(*(s.aclose() for s in sessions), return_exceptions=True)
        self._sessions.difference_update(sessions)
        if self._checkpointer_url is not None and self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await checkpointer.aclose()

    # -- turn-based methods refuse ------------------------------------------------------

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"invoke() {_TURN_BASED}")

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"ainvoke() {_TURN_BASED}")

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"stream() {_TURN_BASED}")

    def astream(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"astream() {_TURN_BASED}")

    # -- session construction -------------------------------------------------------------

    def _new_session(self, queue: Any, config: Mapping[str, Any] | None, state: Any) -> Session:
        if not hasattr(queue, "__aiter__"):
            raise TypeError(
                f"queue must be a LiveInputQueue (or async-iterable of input items), "
                f"got {type(queue).__name__}"
            )
        options = resolve_session_config(self.agent, config)
        realtime_config: RealtimeConfig = options["realtime_config"]

        instruction = _Instruction(self, realtime_config.system_instruction, state)
        system_instruction = instruction()  # a bad prompt fails before the session starts
        provider = self._provider(realtime_config)
        session_config = options["config"]
        return Session(
            queue=queue,
            thread_id=session_config["thread_id"],
            config=session_config,
            realtime_config=realtime_config,
            provider=provider,
            tools=options["tools"],
            system_instruction=system_instruction,
            instruction_factory=instruction,
            store=(
                self.thread_store(session_config)
                if self.thread_store is not None
                else CheckpointerStore(self.checkpointer, session_config)
            ),
            tool_executor=self.tool_executor,
            state=state,
            output_limit=self.output_limit,
            callbacks=self.callback_manager,
            clock=self.clock,
            rng=self.rng,
            shutdown_timeout=self.shutdown_timeout,
            tool_timeout=self.agent.tool_timeout,
            user_id=session_config.get("user_id"),
        )

    def _provider(self, realtime_config: RealtimeConfig) -> Provider:
        if self.agent.provider_instance is not None:
            return self.agent.provider_instance
        from .plugins import create_provider, resolve_provider

        record = resolve_provider(realtime_config.model, realtime_config.provider)
        return create_provider(record)


def resolve_session_config(agent: LiveAgent, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate an ``arealtime`` config: thread id, narrowed tools, realtime overrides.

    Returns ``{"config": dict with thread_id, "realtime_config": RealtimeConfig,
    "tools": [ToolSpec]}``; raises ValueError naming the offending key.
    """
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    data = dict(config)
    thread_id = data.get("thread_id")
    if thread_id is None:
        thread_id = uuid.uuid4().hex
    else:  # one rule for every checkpointer, checked before anything is stored
        check_thread_id(thread_id, where="config['thread_id']")
    data["thread_id"] = thread_id
    user_id = data.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise ValueError(f"config['user_id'] must be a string, got {user_id!r}")

    fields = set(RealtimeConfig.model_fields)
    overrides: dict[str, Any] = {}
    nested = data.get("realtime_config")
    if isinstance(nested, RealtimeConfig):
        nested = nested.model_dump(exclude_unset=True)
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise ValueError("config['realtime_config'] must be a dict of RealtimeConfig fields")
        overrides.update(nested)
    unknown = []
    for key, value in data.items():
        if key in fields:
            overrides[key] = value
        elif key not in SESSION_CONFIG_KEYS:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(map(repr, sorted(unknown)))}: a session config "
            f"takes {', '.join(sorted(SESSION_CONFIG_KEYS))} and overrides of RealtimeConfig "
            f"fields ({', '.join(sorted(fields))})"
        )
    try:
        realtime_config = (
            agent.realtime_config.merged(**overrides) if overrides else (agent.realtime_config)
        )
    except ValidationError as exc:
        raise ValueError(f"invalid per-session realtime override: {exc}") from None
    if agent.provider_instance is None and realtime_config is not agent.realtime_config:
        # the agent's provider_options never reach another provider
        realtime_config = pin_session_provider(agent.realtime_config, realtime_config)

    tools = list(agent.tools)
    wanted = data.get("tools")
    if wanted is not None:
        if isinstance(wanted, str) or not isinstance(wanted, Sequence):
            raise ValueError("config['tools'] must be a list of tool names")
        available = {spec.name: spec for spec in agent.tools}
        names = [w if isinstance(w, str) else getattr(w, "name", repr(w)) for w in wanted]
        extra = [n for n in names if n not in available]
        if extra:
            raise ValueError(
                f"config['tools'] names {', '.join(map(repr, extra))}, which the agent does not "
                f"have ({', '.join(sorted(available)) or 'no tools'}): a session can only narrow "
                "the agent's tools, never add to them"
            )
        tools = [available[n] for n in dict.fromkeys(names)]
    return {"config": data, "realtime_config": realtime_config, "tools": tools}


__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "AudioAgent",
    "LiveAgent",
    "RealtimeApp",
    "resolve_session_config",
]
