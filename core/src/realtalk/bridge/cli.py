"""``realtalk api``: serve ``realtalk.json``'s agent over WebSocket with uvicorn.

On SIGTERM/SIGINT the server stops accepting connections, lets live sessions finish the
reply in flight (``limits.shutdown_grace``), then closes the rest with 1012 so clients
reconnect to another instance with the same ``thread_id``.

``--workers N`` runs N worker processes on one listening socket (one asyncio process
uses at most one core). The parent binds the port, starts the workers, restarts one that
dies and forwards SIGTERM/SIGINT so each worker drains as above. A session lives in the
worker that accepted its WebSocket; a thread can reconnect to any worker, so several
workers need a checkpointer they share (a SQLite file or PostgreSQL), never an in-memory
one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..cli import ArgumentParser, Command, int_in
from .config import BridgeConfig, ConfigError, is_object_spec, load_config
from .limits import LimitsConfig
from .logs import install_log_redaction
from .observability import enable_observability

DEFAULT_CONFIG = "realtalk.json"
OFFLINE_DEMO_SPEC = "realtalk.demo.playground:OFFLINE_DEMO"
"""The agent ``realtalk api`` serves without a config file and without a provider key."""
LOOPS = ("auto", "asyncio", "uvloop")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
"""uvicorn's log levels (``trace`` is below ``debug``)."""
STARTUP_FAILED = 3
"""Exit status of a worker that failed (the parent stops rather than restart it; uvicorn
uses the same status when an app fails to start)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=DEFAULT_CONFIG, help="path to realtalk.json (default: %(default)s)"
    )
    parser.add_argument("--host", default=None, help="bind address (default: config or 127.0.0.1)")
    parser.add_argument(
        "--port", type=int_in(0, 65535), default=None, help="port (default: config or 8000)"
    )
    parser.add_argument(
        "--log-level", type=str.lower, choices=LOG_LEVELS, default="info", help="log level"
    )
    parser.add_argument(
        "--workers",
        type=int_in(1, 1024),
        default=1,
        help="worker processes sharing the port, e.g. one per core (default: %(default)s); "
        "more than one needs a shared checkpointer (sqlite:///file.db or postgresql://...)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: uvloop when installed (auto, the default), or force one",
    )


def serves_offline_demo(args: argparse.Namespace) -> bool:
    """No ``realtalk.json`` here and no provider key: serve the offline demo agent."""
    from ..demo.session import api_key_from_env

    return (
        args.config == DEFAULT_CONFIG
        and not os.path.exists(args.config)
        and api_key_from_env() is None
    )


def build_config(args: argparse.Namespace) -> BridgeConfig:
    """Load the config file (or pick the offline demo) and apply the host and port."""
    if serves_offline_demo(args):
        config = BridgeConfig(agent=OFFLINE_DEMO_SPEC)
    else:
        config = load_config(args.config)
    updates: dict[str, Any] = {}
    if args.host is not None:
        updates["host"] = args.host
    if args.port is not None:
        updates["port"] = args.port
    return config.model_copy(update=updates) if updates else config


def loop_factory(loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``--loop`` names: uvloop if installed (``auto``), or asyncio's."""
    if loop not in LOOPS:
        raise ConfigError(f"unknown event loop {loop!r}; choose from {list(LOOPS)}")
    if loop == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")  # optional: no stubs needed without it
    except ImportError:
        if loop == "uvloop":
            raise ConfigError(
                "--loop uvloop: uvloop is not installed (pip install 'realtalk[server]' "
                "installs it on Linux and macOS)"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def process_local_checkpointer(checkpointer: Any) -> str | None:
    """Why ``checkpointer`` cannot be shared by worker processes, or None if it can."""
    from ..checkpoint.memory import InMemoryCheckpointer

    if isinstance(checkpointer, InMemoryCheckpointer):
        return "the in-memory checkpointer keeps threads inside one process"
    if getattr(checkpointer, "path", None) == ":memory:":
        return "an in-memory SQLite database lives inside one process"
    return None


def check_workers(config: BridgeConfig, workers: int) -> None:
    """Refuse ``workers`` the config cannot serve (before any worker starts)."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    spec = (config.checkpointer or "").strip()
    if workers > 1 and spec and not is_object_spec(spec):
        scheme = spec.partition(":")[0].lower()
        if scheme == "memory":
            raise ConfigError(
                _shared_checkpointer_needed(workers, "memory:// keeps threads inside one process")
            )
        if scheme == "sqlite" and spec.endswith(":memory:"):
            raise ConfigError(
                _shared_checkpointer_needed(workers, "sqlite:///:memory: lives inside one process")
            )


def _shared_checkpointer_needed(workers: int, why: str) -> str:
    return (
        f"--workers {workers} needs a checkpointer the worker processes share: {why}, so "
        "thread ownership and resumption would break when a client reconnects to another "
        'worker. Set "checkpointer" in realtalk.json to a SQLite file ("sqlite:///threads.db", '
        'one machine) or PostgreSQL ("postgresql://user@host/db"), or run with --workers 1.'
    )


GC_YOUNG_THRESHOLD = 10_000
"""Allocations between young-generation collector passes in ``realtalk api`` (Python's
default is 700). Each session keeps ~280 tracked objects alive and every audio chunk
allocates short-lived futures, tasks steps and frames: at 700, a server with hundreds
of sessions runs ~15 young passes a second that promote in-flight objects, which
triggers full passes over every session's objects (80-190 ms, the whole process
stalled). At 10,000 the same load runs ~1 young pass a second and about one full pass
per 20 s (docs/benchmarks.md, Capacity)."""


def tune_gc() -> None:
    """Raise the young generation's threshold, unless the process already chose one."""
    import gc

    threshold = gc.get_threshold()
    if threshold[0] == 700:  # the interpreter's default: nobody tuned it
        gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])


def uvicorn_protocols(limits: LimitsConfig, *, compression: bool = False) -> dict[str, Any]:
    """The uvicorn protocol settings of ``realtalk api``: connections bounded until their
    request head (`.handshake`), the WebSocket library's frame limit equal to
    ``max_frame_bytes``, the bridge's close guarantees and audio shortcut (`.wsprotocol`),
    and permessage-deflate declined unless ``compression`` (`BridgeConfig.
    websocket_compression`): browsers offer it on every WebSocket, and compressing PCM
    audio doubled the bridge's CPU per session (docs/bridge.md, Compression)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from .handshake import HandshakeGuard, guarded_http_protocol
    from .wsprotocol import BridgeWebSocketProtocol

    guard = HandshakeGuard(limits.handshake_timeout, limits.max_pending_connections)
    return {
        "http": guarded_http_protocol(AutoHTTPProtocol, guard),
        "ws": BridgeWebSocketProtocol,
        "ws_max_size": limits.max_frame_bytes,
        "ws_per_message_deflate": compression,
    }


def warn_file_limit(limits: LimitsConfig) -> None:
    """Warn when the process's file limit cannot hold every session and every pending
    connection the limits allow (sockets past it are refused by the kernel, for all)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.max_sessions + limits.max_pending_connections + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        logging.getLogger("realtalk.bridge").warning(
            "the file limit (ulimit -n) is %d, under max_sessions + max_pending_connections "
            "+ 64 = %d: raise it, or lower those limits",
            soft,
            needed,
        )


def _uvicorn_config(asgi: Any, config: BridgeConfig, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(
        asgi,
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        **uvicorn_protocols(config.limits, compression=config.websocket_compression),
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=int(config.limits.shutdown_grace) + 10,
        proxy_headers=True,
        backlog=2048,
    )


async def serve(
    config: BridgeConfig,
    log_level: str = "info",
    *,
    sockets: list[socket.socket] | None = None,
    workers: int = 1,
) -> None:
    """Run the bridge until SIGTERM/SIGINT, draining sessions on the way out.

    ``sockets``: listen on these (a worker of ``--workers``) instead of binding
    ``config.host``/``config.port``; ``workers`` > 1 refuses a process-local checkpointer.
    ``"observability"`` is set up first (in each worker) and flushed last.
    """
    tune_gc()
    stop_observability = enable_observability(config.observability)
    try:
        await _serve(config, log_level, sockets=sockets, workers=workers)
    finally:
        stop_observability()  # flushes the spans of the last sessions


async def _serve(
    config: BridgeConfig, log_level: str, *, sockets: list[socket.socket] | None, workers: int
) -> None:
    import uvicorn

    from .app import create_app

    asgi = create_app(config)
    bridge = asgi.state.bridge
    why = process_local_checkpointer(bridge.checkpointer) if workers > 1 else None
    if why is not None:
        await bridge.aclose()
        raise ConfigError(_shared_checkpointer_needed(workers, why))

    class _Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            for server in self.servers:
                server.close()  # stop accepting first
            await bridge.drain()
            await super().shutdown(sockets)

    install_log_redaction(
        params=[config.auth.query_param or ""], secrets=configured_secrets(config, bridge.app)
    )
    uv_config = _uvicorn_config(asgi, config, log_level)
    bridge.handshake_guard = getattr(uv_config.http, "handshake_guard", None)  # for /healthz
    warn_file_limit(config.limits)
    server = _Server(uv_config)
    await server.serve(sockets=sockets)


PROVIDER_KEY_ENV = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")
"""Environment variables the shipped providers read their API key from."""


def configured_secrets(config: BridgeConfig, app: Any) -> list[str]:
    """The credentials this server knows, masked literally in its logs: client API keys,
    the JWT secret, provider keys from the environment and the agent's provider_options."""
    from .app import app_realtime_config

    auth = config.auth
    values = [k.key or os.environ.get(k.key_env or "", "") for k in auth.api_keys]
    if auth.jwt is not None:
        values.append(auth.jwt.secret or os.environ.get(auth.jwt.secret_env or "", ""))
    names = {*PROVIDER_KEY_ENV, *config.tokens.api_key_env}
    values += [os.environ.get(name, "") for name in sorted(names)]
    realtime = app_realtime_config(app)
    for name, value in (realtime.provider_options if realtime else {}).items():
        if isinstance(value, str) and any(w in name.lower() for w in _SECRET_WORDS):
            values.append(value)
    return [v for v in values if v]


_SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def _configure_logging(config: BridgeConfig, log_level: str) -> None:
    """Logging of ``realtalk api`` (and each worker): credentials masked at every level."""
    level = 5 if log_level == "trace" else log_level.upper()  # uvicorn's TRACE is 5
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction(params=[config.auth.query_param or ""])


def _run_loop(loop: str, main: Any) -> None:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        runner.run(main)


def _worker(
    config: BridgeConfig, log_level: str, loop: str, sock: socket.socket, workers: int
) -> None:
    """One ``--workers`` process (spawned): serve on the parent's socket until SIGTERM."""
    _configure_logging(config, log_level)
    try:
        _run_loop(loop, serve(config, log_level, sockets=[sock], workers=workers))
    except (ConfigError, ValueError) as exc:
        print(f"realtalk api: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILED)
    except KeyboardInterrupt:
        pass
    except Exception:  # the app failed to build: restarting would fail the same way
        logging.getLogger("realtalk.bridge").exception("worker failed")
        sys.exit(STARTUP_FAILED)


def serve_workers(config: BridgeConfig, workers: int, log_level: str, loop: str) -> int:
    """Bind the port, run ``workers`` processes on it, restart any that dies, and on
    SIGTERM/SIGINT stop them all (each drains its sessions). Returns the exit status."""
    import multiprocessing
    import multiprocessing.connection

    loop_factory(loop)  # an unknown or missing loop fails here, not in every worker
    sock = _uvicorn_config(None, config, log_level).bind_socket()  # logs "running on"
    log = logging.getLogger("realtalk.bridge")
    spawn = multiprocessing.get_context("spawn")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    stopping: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_wakeup = signal.set_wakeup_fd(wake_w)

    def start() -> Any:
        proc = spawn.Process(
            target=_worker,
            args=(config, log_level, loop, sock, workers),
            name="realtalk-api-worker",
            daemon=False,
        )
        proc.start()
        log.info("started worker process [%s]", proc.pid)
        return proc

    status = 0
    procs = [start() for _ in range(workers)]
    try:
        while not stopping:
            sentinels = [p.sentinel for p in procs]
            ready = multiprocessing.connection.wait([*sentinels, wake_r])
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)  # a signal woke us: consume its byte
            if stopping:
                break
            for index, proc in enumerate(procs):
                if proc.is_alive():
                    continue
                proc.join()
                if proc.exitcode == STARTUP_FAILED:
                    log.error("worker [%s] could not start; stopping", proc.pid)
                    status = 2
                    stopping.append(0)
                    break
                log.warning("worker [%s] exited (%s); restarting it", proc.pid, proc.exitcode)
                procs[index] = start()
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # each worker drains its sessions
        for proc in procs:
            proc.join(config.limits.shutdown_grace + 20)
            if proc.is_alive():
                proc.kill()
                proc.join()
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
        sock.close()
    return status


def run(args: argparse.Namespace) -> int:
    workers = getattr(args, "workers", 1)
    loop = getattr(args, "loop", "auto")
    try:
        config = build_config(args)
        if not config.agent:
            raise ConfigError(f'{args.config}: needs "agent": "module:attr"')
        check_workers(config, workers)
        loop_factory(loop)
    except ConfigError as exc:
        print(f"realtalk api: {exc}", file=sys.stderr)
        return 2
    _configure_logging(config, args.log_level)
    if config.agent == OFFLINE_DEMO_SPEC:
        logging.getLogger("realtalk.bridge").warning(
            "offline demo: no %s and no GEMINI_API_KEY/GOOGLE_API_KEY, so the page at / "
            "talks to the demo agent replaying a recorded session on a local fake Gemini "
            "server (write %s to serve your own agent)",
            DEFAULT_CONFIG,
            DEFAULT_CONFIG,
        )
    if workers > 1:
        from .app import preflight

        try:
            preflight(config)  # a broken agent or checkpointer: before binding and spawning
        except (ConfigError, ValueError) as exc:
            print(f"realtalk api: {exc}", file=sys.stderr)
            return 2
        return serve_workers(config, workers, args.log_level, loop)
    try:
        _run_loop(loop, serve(config, args.log_level))
    except (ConfigError, ValueError) as exc:
        print(f"realtalk api: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


API = Command(
    help="serve the agent in realtalk.json over WebSocket (/v1/graph/live)",
    configure=configure,
    run=run,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m realtalk.bridge.cli``)."""
    parser = ArgumentParser(prog="realtalk api", description=API.help)
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

__all__ = [
    "API",
    "build_config",
    "check_workers",
    "configured_secrets",
    "loop_factory",
    "main",
    "process_local_checkpointer",
    "serve",
    "serve_workers",
    "serves_offline_demo",
    "uvicorn_protocols",
]
