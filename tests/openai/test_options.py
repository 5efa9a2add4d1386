"""Credentials, URLs and headers for OpenAI and Azure OpenAI, resolved without I/O."""

from __future__ import annotations

import ssl

import pytest

from realtalk.provider import ProviderError
from realtalk_openai.options import resolve_connect_options, resolve_model

KEY = "sk-secret-value-123"


def test_openai_defaults_from_the_environment() -> None:
    options = resolve_connect_options({}, "gpt-realtime", {"OPENAI_API_KEY": KEY})
    assert options.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert options.headers == {"Authorization": f"Bearer {KEY}"}
    assert not options.azure
    assert KEY not in repr(options)


def test_base_url_override_with_tls_context_and_org() -> None:
    context = ssl.create_default_context()
    options = resolve_connect_options(
        {
            "api_key": KEY,
            "base_url": "https://127.0.0.1:8443/v1/",
            "ssl": context,
            "organization": "org-1",
            "project": "proj-1",
            "headers": {"X-Trace": "1"},
        },
        "gpt-realtime-mini",
        {"OPENAI_API_KEY": "other"},
    )
    assert options.url == "wss://127.0.0.1:8443/v1/realtime?model=gpt-realtime-mini"
    assert options.ssl is context
    assert options.headers == {
        "X-Trace": "1",
        "Authorization": f"Bearer {KEY}",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
    }
    env = resolve_connect_options({}, "m", {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://h"})
    assert env.url == "ws://h/realtime?model=m"


def test_azure_endpoint_deployment_and_api_key_header() -> None:
    options = resolve_connect_options(
        {
            "azure_endpoint": "https://res.openai.azure.com/",
            "azure_deployment": "my-rt",
            "api_version": "2025-04-01-preview",
        },
        "gpt-realtime",
        {"AZURE_OPENAI_API_KEY": KEY, "OPENAI_API_KEY": "not-this"},
    )
    assert options.azure
    assert options.url == (
        "wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=my-rt"
    )
    assert options.headers == {"api-key": KEY}
    env = resolve_connect_options(
        {}, "gpt-realtime", {"AZURE_OPENAI_ENDPOINT": "https://r", "AZURE_OPENAI_API_KEY": KEY}
    )
    assert "deployment=gpt-realtime" in env.url
    ga = resolve_connect_options(
        {"azure_endpoint": "https://r", "api_key": KEY, "api_version": "v1"}, "dep", {}
    )
    assert ga.url == "wss://r/openai/v1/realtime?model=dep"


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({}, {}, "OPENAI_API_KEY"),
        ({"azure_endpoint": "https://r"}, {"OPENAI_API_KEY": KEY}, "AZURE_OPENAI_API_KEY"),
        ({"api_key": KEY, "nope": 1}, {}, "unknown OpenAI provider option"),
        ({"api_key": KEY, "base_url": "ftp://x"}, {}, "base_url"),
        ({"api_key": KEY, "ssl": "yes"}, {}, "ssl.SSLContext"),
        ({"api_key": ""}, {}, "non-empty string"),
        ({"api_key": KEY, "open_timeout": 0}, {}, "open_timeout"),
        ({"api_key": KEY, "headers": ["x"]}, {}, "headers"),
    ],
)
def test_bad_options_fail_clearly_without_the_key(
    options: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ProviderError, match=message) as info:
        resolve_connect_options(options, "gpt-realtime", env)
    assert KEY not in str(info.value)


def test_model_aliases() -> None:
    assert resolve_model("openai", {}) == "gpt-realtime"
    assert resolve_model("openai", {"OPENAI_REALTIME_MODEL": "gpt-realtime-mini"}) == (
        "gpt-realtime-mini"
    )
    assert resolve_model("openai/gpt-4o-realtime-preview", {}) == "gpt-4o-realtime-preview"
    assert resolve_model("gpt-realtime", {}) == "gpt-realtime"
