"""The transport reuses one genai.Client per distinct set of options (building one loads a
CA bundle: tens of milliseconds per connect otherwise)."""

from __future__ import annotations

import ssl

import pytest

from realtalk_gemini import transport


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    transport._clients.clear()


def test_same_options_share_a_client_and_different_ones_do_not() -> None:
    ctx = ssl.create_default_context()
    opts = {"vertexai": False, "api_key": "k1", "http_options": {"async_client_args": {"ssl": ctx}}}
    first = transport._client(dict(opts))
    assert transport._client(dict(opts)) is first
    assert transport._client({**opts, "api_key": "k2"}) is not first
    other_ctx = {"async_client_args": {"ssl": ssl.create_default_context()}}
    assert transport._client({**opts, "http_options": other_ctx}) is not first


def test_the_cache_is_bounded() -> None:
    for n in range(transport._CLIENT_CACHE_SIZE + 5):
        transport._client({"vertexai": False, "api_key": f"k{n}", "http_options": {}})
    assert len(transport._clients) == transport._CLIENT_CACHE_SIZE


def test_clear_client_cache_forgets_every_client_and_its_key() -> None:
    import realtalk_gemini

    first = transport._client({"vertexai": False, "api_key": "old-key", "http_options": {}})
    transport._client({"vertexai": False, "api_key": "other", "http_options": {}})
    assert realtalk_gemini.clear_client_cache() == 2
    assert transport._clients == {}
    again = transport._client({"vertexai": False, "api_key": "old-key", "http_options": {}})
    assert again is not first
    assert realtalk_gemini.clear_client_cache() == 1
