"""Objects per live session, and what each session leaves for the collector: realtalk
against the floor client, through ``_clients.py`` against the real-time Gemini server.

The collector's passes walk every tracked object, so the objects a session keeps alive
set how long each pass stalls every session in the process (docs/benchmarks.md, many
sessions). Two figures per client:

* ``per_session``: tracked objects alive per streaming session (``gc.get_objects()``
  with N sessions streaming, minus the same before they started), with the kinds that
  differ most;
* ``cyclic_per_session``: objects only the collector can free (reference cycles) once the
  sessions ended, counted with ``gc.DEBUG_SAVEALL`` and the collector off while they ran.

Then the bridge: ``bridge_cyclic_per_session``, what each ended bridge session leaves in
reference cycles (``realtalk api``'s WebSocket protocol under uvicorn, in this process,
on the echo model double of ``_bridge_server.py``; clients that close, then clients that
drop), with the collector off while they ran.

``uv run python benchmarks/objects.py`` (40 sessions, 3 s each) or ``--quick``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import _harness as h
from _clients import CLIENTS, session_kwargs

CLIENT_NAMES = ("floor", "realtalk")


def kinds() -> Counter[str]:
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def sessions_of(
    name: str, server: h.StreamServer, count: int, chunks: int
) -> tuple[list[Any], list[list[int]]]:
    """``count`` sessions of client ``name`` started, and their latency lists."""
    server.configure(chunks=chunks, interval=h.CHUNK_SECONDS, stagger=True, send_skip=0)
    runner = CLIENTS[name]
    lats: list[list[int]] = [[] for _ in range(count)]
    tasks = [
        asyncio.ensure_future(
            runner(server.http_options, send=True, lat=lats[i], **session_kwargs(name, i))
        )
        for i in range(count)
    ]
    return tasks, lats


@contextlib.contextmanager
def cycles_kept() -> Iterator[None]:
    """The collector off, and what it finds inside counted by ``gc.collect()`` (its
    return value) instead of freed silently; both undone after."""
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def measure(name: str, server: h.StreamServer, count: int, chunks: int) -> dict[str, Any]:
    await asyncio.gather(*sessions_of(name, server, 2, 5)[0])  # imports, TLS, the app
    gc.collect()
    before = kinds()
    running, lats = sessions_of(name, server, count, chunks)
    # polled, so the clients' own per-chunk path stays as it is: until every session
    # has received audio (all are streaming)
    while not all(lats):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    gc.collect()
    alive = kinds() - before
    with cycles_kept():
        await asyncio.gather(*running)
        del running
        cyclic = gc.collect()
    return {"alive": alive, "per_session": sum(alive.values()) / count, "cyclic": cyclic}


async def bridge_sessions(count: int, chunks: int, *, drop: bool) -> float:
    """Objects in cycles per ended bridge session (``count`` sessions, one after another
    in a bridge that outlives them, as a server's does)."""
    import json

    import uvicorn
    from _bridge_server import EchoModel
    from websockets.asyncio.client import connect

    from realtalk import AudioAgent, RealtimeConfig
    from realtalk.bridge import BridgeConfig, create_app
    from realtalk.bridge.cli import uvicorn_protocols

    config = BridgeConfig()
    agent = AudioAgent(
        "echo-model", realtime_config=RealtimeConfig(model="echo-model"), provider=EchoModel()
    ).compile(shutdown_timeout=0.2)  # the double's turn never ends: drained for 0.2 s
    asgi = create_app(config, app=agent)
    bridge = asgi.state.bridge
    server = uvicorn.Server(
        uvicorn.Config(
            asgi,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            **uvicorn_protocols(config.limits),
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    serving = asyncio.ensure_future(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no readiness event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    chunk = bytes(h.IN_CHUNK)

    async def one() -> None:
        async with connect(f"ws://127.0.0.1:{port}/v1/graph/live") as ws:
            await ws.send("{}")
            await ws.recv()  # session_started
            for _ in range(chunks):
                await ws.send(chunk)
                while not isinstance(await ws.recv(), bytes):
                    pass
            if not drop:
                await ws.send(json.dumps({"type": "close"}))
                async for _ in ws:  # until the bridge closes it
                    pass

    async def settled() -> None:  # every server-side session has ended
        while agent.active_sessions or bridge.sessions:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    try:
        await one()  # imports, first-use caches
        await settled()
        gc.collect()
        with cycles_kept():
            for _ in range(count):
                await one()
            await settled()
            for _ in range(5):
                await asyncio.sleep(0)
            cyclic = gc.collect()
    finally:
        server.should_exit = True
        await serving
    return cyclic / count


async def main(quick: bool) -> None:
    h.header("objects per live session and cyclic garbage per ended session", quick)
    count, chunks = (5, 10) if quick else (40, 30)
    results: dict[str, dict[str, Any]] = {}
    with h.StreamServer() as server:
        for name in CLIENT_NAMES:
            results[name] = r = await measure(name, server, count, chunks)
            h.row(
                name,
                sessions=count,
                per_session=r["per_session"],
                cyclic_per_session=r["cyclic"] / count,
            )
    floor, realtalk = results["floor"], results["realtalk"]
    ratio = h.ratio(realtalk["per_session"], floor["per_session"])
    h.row("ratio realtalk/floor", per_session=ratio)
    print("\n## kinds realtalk keeps more of, per session (realtalk, floor)")
    extra = Counter(realtalk["alive"])
    extra.subtract(floor["alive"])
    for kind, _ in extra.most_common(12):
        ours, theirs = realtalk["alive"][kind] / count, floor["alive"][kind] / count
        print(f"{kind:60s} {ours:6.1f} {theirs:6.1f}")
    print("\n## the bridge: ended sessions (realtalk api's protocol, echo double)")
    bridge_count = 3 if quick else 20
    for drop in (False, True):
        cyclic = await bridge_sessions(bridge_count, 5, drop=drop)
        label = "clients drop" if drop else "clients close"
        h.row(f"bridge, {label}", sessions=bridge_count, bridge_cyclic_per_session=cyclic)
    print("\ndone")


if __name__ == "__main__":
    args = h.parser(__doc__ or "").parse_args()
    asyncio.run(main(args.quick))
