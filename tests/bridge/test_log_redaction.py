"""No credential reaches the log of ``realtalk api``, even at ``--log-level debug``: not the
clients' (header, subprotocol, query), not the agent's own upstream ones."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect

from realtalk.bridge.logs import Redactor

from ._support import connect, live_url, realtalk_api, recv_json, recv_until

CLIENT_KEYS = {"header": "hdr-key-0001", "subprotocol": "sub-key-0002", "query": "qry-key-0003"}
UPSTREAM = {
    "Authorization": "Bearer upstream-bearer-0004",
    "x-goog-api-key": "upstream-goog-0005",
    "api-key": "upstream-azure-0006",
}
PROVIDER_KEY = "provider-options-key-0007"
SECRETS = [
    *CLIENT_KEYS.values(),
    "upstream-bearer-0004",
    "upstream-goog-0005",
    "upstream-azure-0006",
    "upstream-query-0008",
    "upstream-sub-0009",
    PROVIDER_KEY,
    "exception-key-0010",
]

AGENT = '''
import logging
from websockets.asyncio.client import connect
from realtalk import RealtimeConfig
from realtalk.events import OutputTranscriptEvent, SessionEndedEvent, SessionStartedEvent

HEADERS = @HEADERS@


class App:
    """Connects "upstream" (to the URL it is sent) the way a provider plugin does."""

    realtime_config = RealtimeConfig(model="fake-x", provider_options={"api_key": "@KEY@"})

    async def arealtime(self, queue, config):
        yield SessionStartedEvent(thread_id=config["thread_id"])
        async for item in queue:
            url = item.text + "&key=upstream-query-0008"
            async with connect(url, additional_headers=HEADERS,
                               subprotocols=["realtalk.v1", "bearer.upstream-sub-0009"]):
                pass
            try:
                raise RuntimeError("upstream refused ?api_key=exception-key-0010")
            except RuntimeError:
                logging.getLogger("agent").exception("upstream failed")
            logging.getLogger("agent").debug("options %s", self.realtime_config.provider_options)
            yield OutputTranscriptEvent(text="done", finished=True)
        yield SessionEndedEvent()


app = App()
'''.replace("@HEADERS@", repr(UPSTREAM)).replace("@KEY@", PROVIDER_KEY)


async def test_debug_log_of_realtalk_api_holds_no_credential(tmp_path: Path) -> None:
    (tmp_path / "upstream_agent.py").write_text(AGENT)
    config = {
        "agent": "upstream_agent:app",
        "auth": {
            "required": True,
            "api_keys": [{"user": name, "key": key} for name, key in CLIENT_KEYS.items()],
        },
    }
    (tmp_path / "realtalk.json").write_text(json.dumps(config))
    async with realtalk_api(tmp_path, "--log-level", "debug") as (addr, proc, lines):
        async with ws_connect(
            live_url(addr),
            additional_headers={"Authorization": f"Bearer {CLIENT_KEYS['header']}"},
        ) as ws:
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
        async with ws_connect(
            live_url(addr), subprotocols=["realtalk.v1", f"bearer.{CLIENT_KEYS['subprotocol']}"]
        ) as ws:  # type: ignore[list-item]
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
        async with connect(live_url(addr, f"access_token={CLIENT_KEYS['query']}")) as ws:
            await ws.send("{}")
            assert (await recv_json(ws))["type"] == "session_started"
            upstream = live_url(addr, "x=1")  # the agent dials back with its own credentials
            await ws.send(json.dumps({"type": "text", "text": upstream}))
            await recv_until(ws, lambda e: e.get("text") == "done")
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    log = "".join(lines)
    assert "DEBUG" in log and "Authorization: ***" in log  # the handshakes were logged
    assert "bearer.***" in log and "access_token=***" in log and "upstream failed" in log
    leaked = [secret for secret in SECRETS if secret in log]
    assert leaked == [], f"credentials in the log: {leaked}"


def test_redactor_masks_each_form_a_credential_is_printed_in() -> None:
    redactor = Redactor(params=["sig"], secrets=["configured-secret-1"])
    cases = [
        ("< Authorization: Bearer abc.def", "< Authorization: ***"),
        ("{'authorization': 'Bearer abc', 'x': 'y'}", "{'authorization': '***', 'x': 'y'}"),
        (
            "[(b'authorization', b'Token abc'), (b'host', b'h')]",
            "[(b'authorization', b'***'), (b'host', b'h')]",
        ),
        ('{"X-Goog-Api-Key": "AIzaabc"}', '{"X-Goog-Api-Key": "***"}'),
        ("> api-key: azure", "> api-key: ***"),
        ("Cookie: session=abc", "Cookie: ***"),
        ("sent Bearer abc to x", "sent Bearer *** to x"),
        (
            "< Sec-WebSocket-Protocol: realtalk.v1, bearer.tok",
            "< Sec-WebSocket-Protocol: realtalk.v1, bearer.***",
        ),
        (
            "protocols ['openai-insecure-api-key.sk-1', 'realtime']",
            "protocols ['openai-insecure-api-key.***', 'realtime']",
        ),
        ("GET /live?access_token=abc&x=1 HTTP/1.1", "GET /live?access_token=***&x=1 HTTP/1.1"),
        ("wss://h/ws?key=AIza1&alt=sse", "wss://h/ws?key=***&alt=sse"),
        ("/p?sig=abc", "/p?sig=***"),
        ("token eyJhbGciOi.eyJzdWIiOi.c2ln here", "token *** here"),
        ("error: configured-secret-1 refused", "error: *** refused"),
        ("Authorization failed for user", "Authorization failed for user"),
    ]
    for text, expected in cases:
        assert redactor.redact(text) == expected, text


def test_redaction_keeps_records_that_formatters_need_intact() -> None:
    redactor = Redactor()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/v1?access_token=abc", "1.1", 200),
        None,
    )
    redactor.redact_record(record)
    assert record.args == ("1.2.3.4:5", "GET", "/v1?access_token=***", "1.1", 200)
    split = logging.LogRecord("x", logging.DEBUG, __file__, 1, "< %s: %s", ("api-key", "v1"), None)
    redactor.redact_record(split)
    assert split.getMessage() == "< api-key: ***"
