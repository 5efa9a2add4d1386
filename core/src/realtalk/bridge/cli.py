"""``realtalk api``: serve ``realtalk.json``'s agent over WebSocket with uvicorn.

On SIGTERM/SIGINT the server stops accepting connections, lets live sessions finish the
reply in flight (``limits.shutdown_grace``), then closes the rest with 1012 so clients
reconnect to another instance with the same ``thread_id``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ..cli import Command
from .config import BridgeConfig, ConfigError, load_config
from .logs import install_log_redaction

DEFAULT_CONFIG = "realtalk.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=DEFAULT_CONFIG, help="path to realtalk.json (default: %(default)s)"
    )
    parser.add_argument("--host", default=None, help="bind address (default: config or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: config or 8000)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def build_config(args: argparse.Namespace) -> BridgeConfig:
    """Load the config file and apply the command line's host and port."""
    config = load_config(args.config)
    updates: dict[str, Any] = {}
    if args.host is not None:
        updates["host"] = args.host
    if args.port is not None:
        updates["port"] = args.port
    return config.model_copy(update=updates) if updates else config


async def serve(config: BridgeConfig, log_level: str = "info") -> None:
    """Run the bridge until SIGTERM/SIGINT, draining sessions on the way out."""
    import uvicorn

    from .app import create_app

    asgi = create_app(config)
    bridge = asgi.state.bridge

    class _Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            for server in self.servers:
                server.close()  # stop accepting first
            await bridge.drain()
            await super().shutdown(sockets)

    uv_config = uvicorn.Config(
        asgi,
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        ws_max_size=config.limits.max_frame_bytes + 65_536,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=int(config.limits.shutdown_grace) + 10,
        proxy_headers=True,
    )
    params = [config.auth.query_param] if config.auth.query_param else []
    install_log_redaction(["access_token", *params])  # uvicorn logs paths with their query
    server = _Server(uv_config)
    await server.serve()


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
        if not config.agent:
            raise ConfigError(f'{args.config}: needs "agent": "module:attr"')
    except ConfigError as exc:
        print(f"realtalk api: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config, args.log_level))
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
    parser = argparse.ArgumentParser(prog="realtalk api", description=API.help)
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["API", "build_config", "main", "serve"]
