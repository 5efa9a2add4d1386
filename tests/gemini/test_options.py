"""Credentials and client options: decided before any connection, never leaking the key."""

from __future__ import annotations

import pytest

from realtalk.provider import ProviderError
from realtalk_gemini.options import (
    DEFAULT_MODEL,
    LIVE_API_VERSION,
    ClientOptions,
    resolve_client_options,
    resolve_model,
)


def test_explicit_key_wins_and_live_api_version_is_default() -> None:
    opts = resolve_client_options({"api_key": "explicit"}, {"GEMINI_API_KEY": "env"})
    assert opts == ClientOptions(
        vertexai=False, api_key="explicit", http_options={"api_version": LIVE_API_VERSION}
    )
    assert opts.client_kwargs() == {
        "vertexai": False,
        "api_key": "explicit",
        "http_options": {"api_version": "v1beta"},
    }


def test_environment_keys_google_api_key_first() -> None:
    assert resolve_client_options({}, {"GEMINI_API_KEY": "g"}).api_key == "g"
    both = {"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "o"}
    assert resolve_client_options({}, both).api_key == "o"


def test_http_options_are_handed_over_with_their_api_version() -> None:
    http = {"base_url": "https://127.0.0.1:9", "api_version": "v1alpha", "timeout": 5}
    opts = resolve_client_options({"api_key": "k", "http_options": http}, {})
    assert opts.http_options == http
    assert http == {"base_url": "https://127.0.0.1:9", "api_version": "v1alpha", "timeout": 5}


def test_http_options_as_sdk_model() -> None:
    from google.genai import types

    opts = resolve_client_options(
        {"api_key": "k", "http_options": types.HttpOptions(base_url="https://x")}, {}
    )
    assert opts.http_options == {"base_url": "https://x", "api_version": "v1beta"}


def test_bad_http_options() -> None:
    with pytest.raises(ProviderError, match="http_options"):
        resolve_client_options({"api_key": "k", "http_options": "https://x"}, {})


def test_missing_key_names_the_variables() -> None:
    with pytest.raises(ProviderError) as info:
        resolve_client_options({}, {})
    message = str(info.value)
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "api_key", "GOOGLE_GENAI_USE_VERTEXAI"):
        assert name in message


def test_key_never_in_repr_or_errors() -> None:
    secret = "AIza-very-secret"
    opts = resolve_client_options({"api_key": secret}, {})
    assert secret not in repr(opts)
    with pytest.raises(ProviderError) as info:
        resolve_client_options({"api_key": secret, "project": "p"}, {})
    assert secret not in str(info.value)


def test_vertex_with_project_uses_adc() -> None:
    env = {"GOOGLE_GENAI_USE_VERTEXAI": "1", "GOOGLE_CLOUD_PROJECT": "proj"}
    opts = resolve_client_options({}, env)
    assert opts == ClientOptions(vertexai=True, project="proj", location="us-central1")
    assert "api_version" not in opts.http_options
    opts = resolve_client_options(
        {"vertexai": True, "project": "p2", "location": "europe-west4"}, {"GEMINI_API_KEY": "k"}
    )
    assert opts == ClientOptions(vertexai=True, project="p2", location="europe-west4")


def test_vertex_express_mode_with_explicit_key() -> None:
    env = {"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "proj"}
    opts = resolve_client_options({"api_key": "k"}, env)
    assert opts == ClientOptions(vertexai=True, api_key="k")


def test_vertex_option_false_overrides_environment() -> None:
    opts = resolve_client_options(
        {"vertexai": False, "api_key": "k"}, {"GOOGLE_GENAI_USE_VERTEXAI": "1"}
    )
    assert opts.vertexai is False


def test_vertex_without_project_or_key() -> None:
    with pytest.raises(ProviderError, match="GOOGLE_CLOUD_PROJECT"):
        resolve_client_options({"vertexai": True}, {})


def test_project_without_vertex_is_an_error() -> None:
    with pytest.raises(ProviderError, match="vertexai=True"):
        resolve_client_options({"api_key": "k", "location": "us"}, {})


def test_unknown_options_are_warned_about_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    opts = resolve_client_options({"api_key": "k", "api_kye": "oops"}, {})
    assert opts.api_key == "k"
    assert "api_kye" in caplog.text
    assert "oops" not in caplog.text


def test_model_aliases() -> None:
    assert resolve_model("gemini-live-2.5-flash-preview", {}) == "gemini-live-2.5-flash-preview"
    assert resolve_model("gemini", {}) == DEFAULT_MODEL
    assert resolve_model("default", {"GEMINI_LIVE_MODEL": "gemini-x"}) == "gemini-x"
