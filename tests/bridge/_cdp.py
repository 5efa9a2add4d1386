"""A tiny Chrome DevTools Protocol client over ``websockets``, for the browser test.

Launches Debian's ``chromium`` headless with a fake microphone fed from a WAV file and
evaluates JavaScript in the page. Readiness is read from chromium's own output
("DevTools listening on ..."), never waited for by sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def write_tone(path: Path, seconds: float, rate: int = 48000) -> None:
    """A 300 Hz tone, mono PCM16: what the fake microphone 'says'."""
    n = np.arange(int(seconds * rate))
    frames = (8000 * np.sin(2 * np.pi * 300 * n / rate)).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


class Page:
    """One page target: ``call`` a CDP method, ``evaluate`` JS (promises awaited)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.console: list[str] = []
        self.responses: list[tuple[int, str]] = []
        """(status, url) of every HTTP response the page got (after ``Network.enable``)."""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message:
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
                continue
            method = message.get("method", "")
            if method == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif method == "Network.responseReceived":
                response = message["params"]["response"]
                self.responses.append((int(response["status"]), response["url"]))
            elif method == "Runtime.exceptionThrown":
                self.console.append(json.dumps(message["params"]["exceptionDetails"])[:500])
            for future in self._listeners.pop(method, []):
                if not future.done():
                    future.set_result(message.get("params", {}))

    def expect_event(self, method: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._listeners.setdefault(method, []).append(future)
        return future

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str, within: float = 30.0) -> Any:
        """The value of ``expression`` (a promise is awaited, at most ``within`` s)."""
        try:
            async with asyncio.timeout(within):
                result = await self.call(
                    "Runtime.evaluate",
                    expression=expression,
                    awaitPromise=True,
                    returnByValue=True,
                )
        except TimeoutError:
            raise AssertionError(
                f"page: {expression!r} did not settle in {within:g} s; console: {self.console}"
            ) from None
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {json.dumps(result['exceptionDetails'])[:800]}")
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        loaded = self.expect_event("Page.loadEventFired")
        await self.call("Page.navigate", url=url)
        await loaded

    async def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport, written to ``path``."""
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def click(self, selector: str) -> None:
        """Click the element ``selector`` names, as a user would (a real mouse event)."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.ws.close()


@contextlib.asynccontextmanager
async def chromium(
    wav: Path, profile: Path, *, width: int = 1280, height: int = 960
) -> AsyncIterator[Page]:
    """Headless chromium whose microphone plays ``wav`` once; yields its blank page
    (``width`` x ``height``, network events recorded in ``Page.responses``)."""
    binary = find_chromium()
    assert binary is not None
    proc = await asyncio.create_subprocess_exec(
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        f"--window-size={width},{height}",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    page: Page | None = None
    try:
        assert proc.stderr is not None
        endpoint = None
        lines: list[str] = []
        while endpoint is None:
            line = (await proc.stderr.readline()).decode(errors="replace")
            if not line:
                raise RuntimeError("chromium exited early:\n" + "".join(lines[-20:]))
            lines.append(line)
            found = re.search(r"DevTools listening on (ws://[^\s]+)", line)
            if found:
                endpoint = found.group(1)
        drain = asyncio.create_task(_drain(proc.stderr))
        port = int(endpoint.split(":")[2].split("/")[0])
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        target = next(t for t in targets if t["type"] == "page")
        ws = await connect(target["webSocketDebuggerUrl"], max_size=None)
        page = Page(ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call("Network.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        yield page
        drain.cancel()
    finally:
        if page is not None:
            await page.close()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
