"""The Starlette application: ``create_app(config)`` for ``realtalk api`` or your own stack.

Routes: ``/v1/graph/live`` (WebSocket, the live protocol), ``/healthz`` (JSON status; 503
while draining or while the checkpointer cannot be reached, so load balancers stop
routing), ``/v1/tokens`` (POST, ephemeral provider tokens), ``/`` (the browser page),
``/favicon.ico`` and ``/static/...``.

Mounting it elsewhere: ``app = create_app(load_config("realtalk.json"))`` is a regular
ASGI app. Call ``await app.state.bridge.drain()`` before your server closes WebSockets
to let sessions finish their reply (``realtalk api`` does this on SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ..config import RealtimeConfig
from ..provider import ProviderError
from ..provider_binding import ProviderOverrideError, pin_session_provider
from . import protocol as p
from .auth import Authenticator, AuthError, Principal, extract_token
from .config import BridgeConfig, ConfigError, import_object, is_object_spec
from .health import CheckpointerProbe
from .limits import SessionSlots
from .session import InputQueue, LiveApp, LiveSession
from .tokens import TokenError, mint_gemini_token

log = logging.getLogger("realtalk.bridge")
STATIC_DIR = Path(__file__).parent / "static"


def _default_queue() -> InputQueue:
    from ..queue import LiveInputQueue

    return LiveInputQueue()


def resolve_checkpointer(config: BridgeConfig) -> Any:
    """The checkpointer ``realtalk.json`` names (URL via the plugins, or ``module:attr``)."""
    spec = config.checkpointer
    if not spec:
        return None
    if is_object_spec(spec):
        return import_object(spec, config.base_dir)
    from ..checkpoint.base import CheckpointerError
    from ..plugins import open_checkpointer

    try:
        return open_checkpointer(spec)
    except CheckpointerError as exc:
        raise ConfigError(f"checkpointer: {exc}") from None


def resolve_app(config: BridgeConfig, checkpointer: Any) -> LiveApp:
    """The compiled app ``realtalk.json`` names; an uncompiled agent is compiled here."""
    if not config.agent:
        raise ConfigError('realtalk.json needs "agent": "module:attr" (a compiled AudioAgent)')
    obj = import_object(config.agent, config.base_dir)
    if hasattr(obj, "arealtime"):
        return obj  # type: ignore[no-any-return]
    if hasattr(obj, "compile"):
        from ..provider import ProviderError

        try:
            return obj.compile(checkpointer=checkpointer)  # type: ignore[no-any-return]
        except ProviderError as exc:
            raise ConfigError(f"{config.agent}: {exc}") from None
    raise ConfigError(
        f"{config.agent!r} is a {type(obj).__name__}: expected a compiled app (with "
        "arealtime) or an agent (with compile)"
    )


def app_checkpointer(app: Any) -> Any:
    """The checkpointer a compiled app persists to, if it exposes one."""
    for name in ("checkpointer", "_checkpointer"):
        value = getattr(app, name, None)
        if value is not None and hasattr(value, "aget_thread"):
            return value
    return None


def override_checker(app: Any) -> Callable[[dict[str, Any]], None] | None:
    """Refuses, as ``bad_override``, a first-frame ``model`` its agent's provider does not
    serve (a session never moves to another provider with the agent's credentials). None
    when the app exposes no agent to check against; ``arealtime`` then refuses the same
    overrides when the session starts (``realtalk.provider_binding``)."""
    agent = getattr(app, "agent", None)
    base = getattr(agent, "realtime_config", None)
    if not isinstance(base, RealtimeConfig) or getattr(agent, "provider_instance", None):
        return None

    def check(overrides: dict[str, Any]) -> None:
        model = overrides.get("model")
        if model is None:
            return
        try:
            pin_session_provider(base, base.merged(model=model))
        except ProviderOverrideError as exc:
            raise p.ProtocolError("bad_override", f"override 'model': {exc}") from None
        except ValueError:
            raise p.ProtocolError("bad_override", "override 'model' is not a valid model") from None
        except ProviderError:
            return  # the agent's own provider is missing: the session start reports it

    return check


def app_realtime_config(app: Any) -> RealtimeConfig | None:
    """The agent's build-time RealtimeConfig (the token endpoint locks tokens to it)."""
    for owner in (app, getattr(app, "agent", None)):
        for name in ("realtime_config", "config"):
            value = getattr(owner, name, None)
            if isinstance(value, RealtimeConfig):
                return value
    return None


class Bridge:
    """Shared state of one bridge process: the app, auth, limits, live sessions."""

    def __init__(
        self,
        config: BridgeConfig,
        app: LiveApp,
        *,
        checkpointer: Any = None,
        queue_factory: Callable[[], InputQueue] = _default_queue,
        token_http_client: Any = None,
        owns_checkpointer: bool = False,
        owns_app: bool = False,
    ) -> None:
        self.config = config
        self.app = app
        self.checkpointer = checkpointer
        self.queue_factory = queue_factory
        self.token_http_client = token_http_client
        self.owns_checkpointer = owns_checkpointer
        self.owns_app = owns_app
        self.auth = Authenticator(
            config.auth, required=config.auth_required, base_dir=config.base_dir
        )
        self.slots = SessionSlots(config.limits.max_sessions)
        self.sessions: set[LiveSession] = set()
        self.allowed_overrides = frozenset(config.overrides)
        self.check_overrides = override_checker(app)
        self.dropped_audio_frames = 0
        self.handshake_guard: Any = None
        """``realtalk api``'s `HandshakeGuard` (healthz)."""
        self.probe = CheckpointerProbe(checkpointer)

    # ------------------------------------------------------------------ websocket

    async def live(self, websocket: WebSocket) -> None:
        offered = list(websocket.scope.get("subprotocols") or [])
        chosen = p.SUBPROTOCOL if p.SUBPROTOCOL in offered else None
        if not self.auth.origin_allowed(websocket.headers.get("origin")):
            await _deny(websocket, 403, "origin not allowed")
            return
        try:
            source = extract_token(
                websocket.headers, websocket.query_params, offered, self.config.auth.query_param
            )
            principal = self.auth.authenticate(source.token, required=self._must_auth(websocket))
        except AuthError as exc:
            await _refuse(websocket, chosen, p.CLOSE_POLICY, "unauthorized", exc.message)
            return
        if not self.slots.try_acquire():
            if self.slots.draining:
                await _refuse(
                    websocket,
                    chosen,
                    p.CLOSE_RESTART,
                    "shutting_down",
                    "this server is shutting down; reconnect",
                )
            else:
                await _refuse(
                    websocket,
                    chosen,
                    p.CLOSE_TRY_AGAIN,
                    "server_busy",
                    "too many sessions on this server; retry later",
                )
            return
        try:
            await websocket.accept(subprotocol=chosen)
            await self._run(websocket, principal)
        finally:
            self.slots.release()

    def _must_auth(self, conn: HTTPConnection) -> bool:
        server = conn.scope.get("server")
        return self.auth.must_authenticate(
            conn.client.host if conn.client else None,
            server[0] if server else None,
            conn.headers,
        )

    async def _run(self, websocket: WebSocket, principal: Principal) -> None:
        session = LiveSession(
            websocket,
            app=self.app,
            principal=principal,
            limits=self.config.limits,
            allowed_overrides=self.allowed_overrides,
            queue_factory=self.queue_factory,
            checkpointer=self.checkpointer,
            check_overrides=self.check_overrides,
        )
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self.dropped_audio_frames += session.dropped_audio_chunks

    # ------------------------------------------------------------------ lifecycle

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking sessions, end input of live ones, wait ``grace`` s, then close 1012."""
        grace = self.config.limits.shutdown_grace if grace is None else grace
        self.slots.draining = True
        for session in list(self.sessions):
            session.shutdown()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.slots.wait_idle(), grace)
        for session in list(self.sessions):
            session.abort(p.CLOSE_RESTART, "server shutting down")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.slots.wait_idle(), 5.0)

    async def aclose(self) -> None:
        """Drain, then release what the bridge opened itself (compiled app, checkpointer)."""
        await self.drain()
        app_close = getattr(self.app, "aclose", None) if self.owns_app else None
        if app_close is not None:
            await app_close()
        if self.owns_checkpointer and self.checkpointer is not None:
            close = getattr(self.checkpointer, "aclose", None)
            if close is not None:
                await close()

    # ------------------------------------------------------------------ http

    async def healthz(self, request: Request) -> Response:
        unready = None if self.slots.draining else await self.probe.check()
        status = "draining" if self.slots.draining else "unavailable" if unready else "ok"
        body: dict[str, Any] = {
            "status": status,
            "sessions": self.slots.active,
            "max_sessions": self.slots.max_sessions,
            "sessions_total": self.slots.total,
            "sessions_refused": self.slots.refused,
            "dropped_audio_frames": self.dropped_audio_frames
            + sum(s.dropped_audio_chunks for s in self.sessions),
        }
        if self.handshake_guard is not None:
            body.update(self.handshake_guard.stats())
        if unready:
            body["reason"] = unready
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    async def tokens(self, request: Request) -> Response:
        settings = self.config.tokens
        if not settings.enabled:
            return _error_json(404, "not_found", "the token endpoint is disabled")
        if not self.auth.origin_allowed(request.headers.get("origin")):
            return _error_json(403, "forbidden", "origin not allowed")
        try:
            source = extract_token(
                request.headers, request.query_params, (), self.config.auth.query_param
            )
            self.auth.authenticate(source.token, required=self._must_auth(request))
        except AuthError as exc:
            return _error_json(
                exc.status, "unauthorized", exc.message, headers={"WWW-Authenticate": "Bearer"}
            )
        realtime_config = app_realtime_config(self.app)
        if realtime_config is None or not _is_gemini(realtime_config):
            return _error_json(
                400, "unsupported", "ephemeral tokens are only available for Gemini agents"
            )
        api_key = next((os.environ[n] for n in settings.api_key_env if os.environ.get(n)), None)
        if not api_key:
            return _error_json(
                503,
                "not_configured",
                f"no provider API key: set one of {settings.api_key_env}",
            )
        try:
            body = await mint_gemini_token(
                realtime_config, settings, api_key=api_key, http_client=self.token_http_client
            )
        except TokenError as exc:
            return _error_json(exc.status, "provider_error", exc.message)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})


def index_html(app: Any) -> str:
    """The browser page, with the app's badge and notice (the offline demo names itself)."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    badge = getattr(app, "page_badge", None)
    notice = getattr(app, "page_notice", None)
    if isinstance(badge, str) and badge:
        page = page.replace(
            "<!--realtalk:badge-->", f'<span id="badge" class="badge">{html.escape(badge)}</span>'
        )
    if isinstance(notice, str) and notice:
        page = page.replace(
            "<!--realtalk:notice-->", f'<p id="notice" class="notice">{html.escape(notice)}</p>'
        )
    return page


def _is_gemini(rc: RealtimeConfig) -> bool:
    return rc.provider == "gemini" or (rc.provider is None and rc.model.startswith("gemini"))


def _error_json(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse the handshake with an HTTP status (when the server supports it)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(message, status))
    else:
        await websocket.close(p.CLOSE_POLICY)


async def _refuse(
    websocket: WebSocket, subprotocol: str | None, code: int, error: str, message: str
) -> None:
    """Accept, say why, close: browsers see close codes and events, not HTTP statuses."""
    with contextlib.suppress(Exception):
        await websocket.accept(subprotocol=subprotocol)
        await websocket.send_text(p.error_frame(error, message, fatal=True))
        await websocket.close(code, message[:120])


def create_app(
    config: BridgeConfig | None = None,
    *,
    app: LiveApp | None = None,
    checkpointer: Any = None,
    queue_factory: Callable[[], InputQueue] | None = None,
    token_http_client: Any = None,
) -> Starlette:
    """Build the bridge's ASGI app.

    ``app`` and ``checkpointer`` default to what ``config`` names (``agent``,
    ``checkpointer``). Thread ownership is enforced when a checkpointer is known: the one
    given, the one the config names, or the one the compiled app exposes.
    """
    config = config or BridgeConfig()
    owns = False
    if checkpointer is None and config.checkpointer:
        checkpointer = resolve_checkpointer(config)
        owns = not is_object_spec(config.checkpointer)
    owns_app = False
    if app is None:
        app = resolve_app(config, checkpointer)
        owns_app = not hasattr(import_object(config.agent or "", config.base_dir), "arealtime")
    if checkpointer is None:
        checkpointer = app_checkpointer(app)
    bridge = Bridge(
        config,
        app,
        checkpointer=checkpointer,
        queue_factory=queue_factory or _default_queue,
        token_http_client=token_http_client,
        owns_checkpointer=owns,
        owns_app=owns_app,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await bridge.aclose()

    page = index_html(app)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    starlette = Starlette(
        routes=[
            WebSocketRoute("/v1/graph/live", bridge.live),
            Route("/healthz", bridge.healthz),
            Route("/v1/tokens", bridge.tokens, methods=["POST"]),
            Route("/", index),
            Route("/favicon.ico", favicon),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
    )
    starlette.state.bridge = bridge
    return starlette


def preflight(config: BridgeConfig) -> None:
    """Build what ``config`` names once and release it again. ``realtalk api --workers``
    runs this in the parent, so an agent module that raises, an unknown model or an
    unusable checkpointer is one error before the port is bound and workers spawn."""
    asgi = create_app(config)
    asyncio.run(asgi.state.bridge.aclose())


__all__ = ["Bridge", "create_app", "preflight", "resolve_app", "resolve_checkpointer"]
