"""The direct-to-provider token endpoint: google-genai's auth-token call, seen by respx and
replayed by a vcrpy cassette (the bridge hands google-genai an ``httpx.AsyncClient``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import vcr

from realtalk.bridge import BridgeConfig
from realtalk.config import RealtimeConfig

from ._support import EchoApp, bridge_server

API_KEY = "test-gemini-key-do-not-leak"
ALICE = "alice-key-0123456789"
MODEL = "gemini-live-2.5-flash-preview"
TOKEN_URL = "https://generativelanguage.googleapis.com/v1alpha/auth_tokens"
CASSETTES = Path(__file__).parent / "cassettes"


class GeminiApp(EchoApp):
    def __init__(self, model: str = MODEL) -> None:
        super().__init__()
        self.realtime_config = RealtimeConfig(model=model, voice="Puck", system_instruction="Hi")


def config() -> BridgeConfig:
    return BridgeConfig.model_validate(
        {"auth": {"required": True, "api_keys": [{"user": "alice", "key": ALICE}]}}
    )


async def post_token(addr: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"http://{addr}/v1/tokens", headers={"Authorization": f"Bearer {ALICE}"}
        )


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    return API_KEY


def mocked_provider(response: httpx.Response) -> tuple[respx.Router, Any, httpx.AsyncClient]:
    router = respx.Router(assert_all_called=False)
    route = router.post(TOKEN_URL).mock(return_value=response)
    return router, route, httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))


async def test_token_is_minted_and_locked_to_the_agent(api_key: str) -> None:
    _, route, client = mocked_provider(httpx.Response(200, json={"name": "auth_tokens/t-1"}))
    async with bridge_server(GeminiApp(), config(), token_http_client=client) as addr:
        answer = await post_token(addr)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token"] == "auth_tokens/t-1" and body["model"] == MODEL and body["uses"] == 1
    assert answer.headers["cache-control"] == "no-store"
    assert API_KEY not in answer.text
    request = route.calls.last.request
    assert request.headers["x-goog-api-key"] == api_key
    sent = json.loads(request.content)
    setup = sent["bidiGenerateContentSetup"]
    assert setup["model"] == f"models/{MODEL}"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["systemInstruction"]["parts"] == [{"text": "Hi"}]
    assert "model" in sent["fieldMask"].split(",")  # locked: clients cannot pick a model
    assert sent["uses"] == 1 and "expireTime" in sent and "newSessionExpireTime" in sent


async def test_provider_refusal_is_502_without_secrets(api_key: str) -> None:
    _, route, client = mocked_provider(
        httpx.Response(403, json={"error": {"code": 403, "message": "denied", "status": "X"}})
    )
    async with bridge_server(GeminiApp(), config(), token_http_client=client) as addr:
        answer = await post_token(addr)
    assert answer.status_code == 502 and route.called
    assert answer.json()["error"]["code"] == "provider_error" and API_KEY not in answer.text


async def test_no_api_key_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    async with bridge_server(GeminiApp(), config()) as addr:
        answer = await post_token(addr)
    assert answer.status_code == 503 and "GEMINI_API_KEY" in answer.text


async def test_non_gemini_agent_is_400(api_key: str) -> None:
    async with bridge_server(GeminiApp(model="fake-model"), config()) as addr:
        answer = await post_token(addr)
    assert answer.status_code == 400


async def test_disabled_endpoint_is_404(api_key: str) -> None:
    disabled = config().model_copy(
        update={"tokens": config().tokens.model_copy(update={"enabled": False})}
    )
    async with bridge_server(GeminiApp(), disabled) as addr:
        answer = await post_token(addr)
    assert answer.status_code == 404


async def test_token_call_replays_from_a_vcrpy_cassette(api_key: str) -> None:
    cassette = CASSETTES / "gemini_auth_token.yaml"
    assert API_KEY not in cassette.read_text() and "x-goog-api-key" not in cassette.read_text()
    recorder = vcr.VCR(
        record_mode="none",
        match_on=["method", "scheme", "host", "path"],
        filter_headers=["x-goog-api-key"],
        ignore_localhost=True,
    )
    with recorder.use_cassette(str(cassette)) as tape:
        async with bridge_server(
            GeminiApp(), config(), token_http_client=httpx.AsyncClient()
        ) as addr:
            answer = await post_token(addr)
        assert tape.play_count == 1
    assert answer.status_code == 200, answer.text
    assert answer.json()["token"] == "auth_tokens/cassette-ephemeral-token-7f3a"
