"""Connection options for the OpenAI Realtime socket, from ``provider_options`` and the env.

Pure: no I/O besides reading the mappings it is given, so a missing key fails before any
connection is attempted and every rule is testable offline. Error messages name
variables, never their values.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from realtalk.provider import ProviderError

DEFAULT_BASE_URL = "wss://api.openai.com/v1"
"""Where the OpenAI Realtime socket lives (``{base_url}/realtime?model=...``)."""

DEFAULT_MODEL = "gpt-realtime"
"""Model used for the aliases ``"openai"`` and ``"gpt-realtime"`` when unset in the env."""

MODEL_ALIASES = frozenset({"openai", "openai-realtime"})

DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"
"""Azure OpenAI api-version used when none is given."""

KNOWN_OPTIONS = frozenset(
    {
        "api_key",
        "base_url",
        "ssl",
        "organization",
        "project",
        "azure_endpoint",
        "azure_deployment",
        "api_version",
        "transcription_model",
        "session",
        "truncate_on_interrupt",
        "open_timeout",
        "headers",
    }
)
"""Keys ``provider_options`` may hold; anything else is a typo and is refused."""


@dataclass(frozen=True)
class ConnectOptions:
    """How to open the socket; ``repr`` hides credentials."""

    url: str
    headers: dict[str, str] = field(repr=False)
    ssl: ssl.SSLContext | None = field(default=None, repr=False)
    open_timeout: float = 10.0
    azure: bool = False


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProviderError(f"provider_options[{key!r}] must be a non-empty string")
    return value.strip()


def _ws_url(base: str) -> str:
    """``https://`` -> ``wss://`` and ``http://`` -> ``ws://``; no trailing slash."""
    parts = urlsplit(base.strip())
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ProviderError(
            "provider_options['base_url'] must be a wss://, ws://, https:// or http:// URL"
        )
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def resolve_model(model: str, environ: Mapping[str, str]) -> str:
    """The OpenAI model id for a realtalk model name (aliases resolve to the default)."""
    if model in MODEL_ALIASES:
        return environ.get("OPENAI_REALTIME_MODEL") or DEFAULT_MODEL
    return model.removeprefix("openai/")


def resolve_connect_options(
    provider_options: Mapping[str, Any], model: str, environ: Mapping[str, str]
) -> ConnectOptions:
    """Socket URL, headers and TLS context for one connection.

    OpenAI: ``Authorization: Bearer`` with ``api_key`` or ``OPENAI_API_KEY``; the base URL
    from ``base_url`` or ``OPENAI_BASE_URL``. Azure OpenAI (``azure_endpoint`` or
    ``AZURE_OPENAI_ENDPOINT``): ``api-key`` header with ``api_key`` or
    ``AZURE_OPENAI_API_KEY``, the deployment from ``azure_deployment`` (default: the model)
    and ``api_version`` (or ``OPENAI_API_VERSION``; ``"v1"`` selects the GA ``/openai/v1``
    path).
    """
    unknown = set(provider_options) - KNOWN_OPTIONS
    if unknown:
        raise ProviderError(
            f"unknown OpenAI provider option(s) {sorted(unknown)}; known: {sorted(KNOWN_OPTIONS)}"
        )
    context = provider_options.get("ssl")
    if context is not None and not isinstance(context, ssl.SSLContext):
        raise ProviderError("provider_options['ssl'] must be an ssl.SSLContext")
    timeout = provider_options.get("open_timeout", 10.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ProviderError("provider_options['open_timeout'] must be a positive number")
    extra = provider_options.get("headers") or {}
    if not isinstance(extra, Mapping):
        raise ProviderError("provider_options['headers'] must be a mapping of header names")
    headers = {str(k): str(v) for k, v in extra.items()}
    azure_endpoint = _text(provider_options, "azure_endpoint") or environ.get(
        "AZURE_OPENAI_ENDPOINT"
    )
    if azure_endpoint:
        key = _text(provider_options, "api_key") or environ.get("AZURE_OPENAI_API_KEY")
        if not key:
            raise ProviderError(
                "Azure OpenAI needs an API key: set AZURE_OPENAI_API_KEY or pass "
                "provider_options={'api_key': ...}"
            )
        deployment = _text(provider_options, "azure_deployment") or model
        version = (
            _text(provider_options, "api_version")
            or environ.get("OPENAI_API_VERSION")
            or DEFAULT_AZURE_API_VERSION
        )
        if version == "v1":  # the GA surface: /openai/v1/realtime?model=<deployment>
            url = f"{_ws_url(azure_endpoint)}/openai/v1/realtime?{urlencode({'model': deployment})}"
        else:
            query = urlencode({"api-version": version, "deployment": deployment})
            url = f"{_ws_url(azure_endpoint)}/openai/realtime?{query}"
        headers["api-key"] = key
        return ConnectOptions(url, headers, context, float(timeout), azure=True)
    key = _text(provider_options, "api_key") or environ.get("OPENAI_API_KEY")
    if not key:
        raise ProviderError(
            "OpenAI Realtime needs an API key: set OPENAI_API_KEY or pass "
            "provider_options={'api_key': ...}"
        )
    base = _text(provider_options, "base_url") or environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    url = f"{_ws_url(base)}/realtime?{urlencode({'model': model})}"
    headers["Authorization"] = f"Bearer {key}"
    for option, header in (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")):
        value = _text(provider_options, option)
        if value:
            headers[header] = value
    return ConnectOptions(url, headers, context, float(timeout))


__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "KNOWN_OPTIONS",
    "MODEL_ALIASES",
    "ConnectOptions",
    "resolve_connect_options",
    "resolve_model",
]
