"""Authentication (API keys, JWT HS256/RS256; header, subprotocol, query) and thread ownership."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import InvalidStatus

from realtalk.bridge import BridgeConfig, create_app
from realtalk.bridge.auth import AuthConfig, Authenticator, AuthError, extract_token, is_loopback
from realtalk.checkpoint import InMemoryCheckpointer

from ._support import EchoApp, bridge_server, connect, live_url, recv_json

SECRET = "s3cret-signing-key-of-at-least-32-bytes!"
ALICE_KEY = "alice-key-0123456789"
BOB_KEY = "bob-key-0123456789"


def auth_config(**extra: Any) -> BridgeConfig:
    auth = {
        "required": True,
        "api_keys": [{"user": "alice", "key": ALICE_KEY}, {"user": "bob", "key": BOB_KEY}],
        "jwt": {"secret": SECRET, "audience": "realtalk"},
        **extra,
    }
    return BridgeConfig.model_validate({"auth": auth})


def hs_token(**claims: Any) -> str:
    body = {"sub": "carol", "aud": "realtalk", "exp": int(time.time()) + 60, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


async def start(ws: Any, first: dict[str, Any] | None = None) -> dict[str, Any]:
    await ws.send(json.dumps(first or {}))
    return await recv_json(ws)


async def assert_refused(ws: Any, code: str = "unauthorized") -> dict[str, Any]:
    error = await recv_json(ws)
    assert error["type"] == "error" and error["code"] == code and error["fatal"], error
    await ws.wait_closed()
    assert ws.close_code == 1008
    return error


async def test_api_key_in_header_subprotocol_and_query(echo_app: EchoApp) -> None:
    cp = InMemoryCheckpointer()
    async with bridge_server(echo_app, auth_config(), checkpointer=cp) as addr:
        headers = {"Authorization": f"Bearer {ALICE_KEY}"}
        async with connect(live_url(addr), additional_headers=headers) as ws:
            assert (await start(ws, {"thread_id": "a1"}))["type"] == "session_started"
        async with connect(
            live_url(addr),
            subprotocols=["realtalk.v1", f"bearer.{BOB_KEY}"],  # type: ignore[list-item]
        ) as ws:
            assert ws.subprotocol == "realtalk.v1"  # echoed, never the token
            assert (await start(ws, {"thread_id": "b1"}))["type"] == "session_started"
        async with connect(live_url(addr, f"access_token={hs_token()}")) as ws:
            assert (await start(ws, {"thread_id": "c1"}))["type"] == "session_started"
    owners = {t: (await cp.aget_thread({"thread_id": t})) for t in ("a1", "b1", "c1")}
    assert {t: info.user_id for t, info in owners.items() if info} == {
        "a1": "alice",
        "b1": "bob",
        "c1": "carol",
    }


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"Authorization": "Bearer wrong-key"}, ""),
        ({"Authorization": "Basic YWxpY2U6eA=="}, ""),
        ({}, "access_token=wrong"),
        ({"Authorization": f"Bearer {hs_token(exp=int(time.time()) - 5)}"}, ""),
        ({"Authorization": f"Bearer {hs_token(aud='someone-else')}"}, ""),
        ({"Authorization": f"Bearer {hs_token(sub=None)}"}, ""),
        ({"Authorization": "Bearer " + jwt.encode({"sub": "x"}, "other-key-" * 4)}, ""),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({"sub": "x", "aud": "realtalk"}, None, "none")
            },
            "",
        ),
    ],
    ids=[
        "none",
        "bad-key",
        "basic",
        "bad-query",
        "expired",
        "audience",
        "no-sub",
        "signature",
        "alg-none",
    ],
)
async def test_auth_failures_close_1008(
    echo_app: EchoApp, headers: dict[str, str], query: str
) -> None:
    async with bridge_server(echo_app, auth_config()) as addr:
        async with connect(live_url(addr, query), additional_headers=headers) as ws:
            await assert_refused(ws)
    assert echo_app.configs == []


async def test_rs256_tokens() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = AuthConfig.model_validate(
        {"jwt": {"algorithms": ["RS256"], "public_key": pem.decode(), "issuer": "idp"}}
    )
    auth = Authenticator(config, required=True)
    good = jwt.encode({"sub": "dora", "iss": "idp", "exp": time.time() + 60}, private, "RS256")
    assert auth.authenticate(good).user_id == "dora"
    with pytest.raises(AuthError, match="issuer"):
        auth.authenticate(
            jwt.encode({"sub": "d", "iss": "x", "exp": time.time() + 60}, private, "RS256")
        )
    with pytest.raises(AuthError, match="algorithm"):  # an HS256 token signed with the public key
        auth.authenticate(jwt.encode({"sub": "d", "exp": time.time() + 60}, "k" * 40, "HS256"))


def test_auth_is_required_off_loopback_and_needs_credentials() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert not BridgeConfig().auth_required
    assert BridgeConfig(host="0.0.0.0").auth_required
    with pytest.raises(ValueError, match="no api_keys and no jwt"):
        create_app(BridgeConfig(host="0.0.0.0"), app=EchoApp())
    create_app(
        BridgeConfig.model_validate({"host": "0.0.0.0", "auth": {"required": False}}), app=EchoApp()
    )


def test_token_sources_and_secrets_stay_out_of_reprs() -> None:
    assert extract_token({"authorization": "Bearer abc"}, {}).source == "header"
    assert extract_token({}, {}, ["realtalk.v1", "bearer.xyz"]).token == "xyz"
    assert extract_token({}, {"access_token": "q"}).source == "query"
    assert extract_token({}, {"access_token": "q"}, query_param=None).token is None
    config = auth_config()
    assert ALICE_KEY not in repr(config) and SECRET not in repr(config)


async def test_another_users_thread_is_refused(echo_app: EchoApp) -> None:
    cp = InMemoryCheckpointer()
    async with bridge_server(echo_app, auth_config(), checkpointer=cp) as addr:
        alice = {"Authorization": f"Bearer {ALICE_KEY}"}
        bob = {"Authorization": f"Bearer {BOB_KEY}"}
        async with connect(live_url(addr), additional_headers=alice) as ws:
            assert (await start(ws, {"thread_id": "secret-thread"}))["type"] == "session_started"
        async with connect(live_url(addr), additional_headers=bob) as ws:
            error = await start(ws, {"thread_id": "secret-thread"})
            assert error["code"] == "thread_forbidden" and error["fatal"]
            await ws.wait_closed()
            assert ws.close_code == 1008
        async with connect(live_url(addr), additional_headers=alice) as ws:
            assert (await start(ws, {"thread_id": "secret-thread"}))["type"] == "session_started"
    assert [c["thread_id"] for c in echo_app.configs] == ["secret-thread", "secret-thread"]


async def test_origin_allowlist_answers_http_403(echo_app: EchoApp) -> None:
    config = auth_config(allowed_origins=["https://app.example"])
    headers = {"Authorization": f"Bearer {ALICE_KEY}"}
    async with bridge_server(echo_app, config) as addr:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(
                live_url(addr), additional_headers=headers, origin="https://evil.example"
            ):  # type: ignore[arg-type]
                pass
        assert caught.value.response.status_code == 403
        async with connect(
            live_url(addr), additional_headers=headers, origin="https://app.example"
        ) as ws:  # type: ignore[arg-type]
            assert (await start(ws))["type"] == "session_started"


async def test_token_endpoint_http_401_and_403(echo_app: EchoApp) -> None:
    config = auth_config(allowed_origins=["https://app.example"])
    async with bridge_server(echo_app, config) as addr, httpx.AsyncClient() as client:
        url = f"http://{addr}/v1/tokens"
        missing = await client.post(url)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = await client.post(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "nope" not in wrong.text
        origin = await client.post(
            url, headers={"Authorization": f"Bearer {ALICE_KEY}", "Origin": "https://evil.example"}
        )
        assert origin.status_code == 403


def test_auto_auth_exempts_only_genuinely_local_callers() -> None:
    auto = Authenticator(AuthConfig(), required=False)
    assert not auto.must_authenticate("127.0.0.1", "127.0.0.1", {})
    assert not auto.must_authenticate("::1", None, {})
    assert auto.must_authenticate("127.0.0.1", "127.0.0.1", {"x-forwarded-for": "203.0.113.9"})
    assert auto.must_authenticate("127.0.0.1", "127.0.0.1", {"forwarded": "for=203.0.113.9"})
    assert auto.must_authenticate("203.0.113.9", "127.0.0.1", {})
    assert auto.must_authenticate("127.0.0.1", "10.1.2.3", {})  # mounted on a public server
    assert auto.must_authenticate(None, "127.0.0.1", {})
    off = Authenticator(AuthConfig(required=False), required=False)
    assert not off.must_authenticate("203.0.113.9", "10.1.2.3", {"x-forwarded-for": "x"})


async def test_proxied_callers_must_authenticate_on_a_loopback_server(echo_app: EchoApp) -> None:
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    async with bridge_server(echo_app) as addr:  # loopback, auth on "auto", no credentials
        async with connect(live_url(addr), additional_headers=proxied) as ws:
            error = await assert_refused(ws)
            assert "no credentials configured" in error["message"]
        async with connect(live_url(addr)) as ws:  # a local caller needs none
            assert (await start(ws))["type"] == "session_started"
    keyed = BridgeConfig.model_validate({"auth": {"api_keys": [{"user": "a", "key": ALICE_KEY}]}})
    async with bridge_server(EchoApp(), keyed) as addr:
        async with connect(live_url(addr), additional_headers=proxied) as ws:
            await assert_refused(ws)
        headers = {**proxied, "Authorization": f"Bearer {ALICE_KEY}"}
        async with connect(live_url(addr), additional_headers=headers) as ws:
            assert (await start(ws))["type"] == "session_started"
