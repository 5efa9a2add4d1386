"""Client options for google-genai, resolved from ``provider_options`` and the environment.

Pure: no SDK import and no I/O besides reading the mapping it is given, so a missing key
fails before any connection is attempted and the rules are testable without a network.
Error messages name variables, never their values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from realtalk.provider import ProviderError

logger = logging.getLogger("realtalk_gemini")

LIVE_API_VERSION = "v1beta"
"""The Gemini API version that serves the Live socket (the SDK's own default, v1, does not)."""

DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
"""Model used for the aliases ``"gemini"`` and ``"default"`` when GEMINI_LIVE_MODEL is unset."""

MODEL_ALIASES = frozenset({"gemini", "default", "gemini-live"})

KNOWN_OPTIONS = frozenset(
    {
        "api_key",
        "vertexai",
        "project",
        "location",
        "http_options",
        "live_config",
        "compression_trigger_tokens",
        "compression_target_tokens",
        "audio_fast_path",
    }
)

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class ClientOptions:
    """Keyword arguments for ``google.genai.Client``; ``repr`` hides the key."""

    vertexai: bool
    api_key: str | None = field(default=None, repr=False)
    project: str | None = None
    location: str | None = None
    http_options: dict[str, Any] = field(default_factory=dict)

    def client_kwargs(self) -> dict[str, Any]:
        """What to hand to ``google.genai.Client(**kwargs)``."""
        kwargs: dict[str, Any] = {"vertexai": self.vertexai, "http_options": self.http_options}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.project:
            kwargs["project"] = self.project
        if self.location:
            kwargs["location"] = self.location
        return kwargs


FAST_PATH_ENV = "REALTALK_GEMINI_AUDIO_FAST_PATH"


def audio_fast_path(provider_options: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether audio frames skip the SDK's models (see ``frames``): on unless turned off.

    ``provider_options["audio_fast_path"]`` wins; else ``REALTALK_GEMINI_AUDIO_FAST_PATH``
    (``0``/``false`` turns it off without a code change).
    """
    value = provider_options.get("audio_fast_path")
    if value is None:
        value = environ.get(FAST_PATH_ENV)
    return True if value is None else _as_bool(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _http_options_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)  # google.genai.types.HttpOptions
    if callable(dump):
        dumped = dump(exclude_none=True)
        if isinstance(dumped, dict):
            return dumped
    raise ProviderError(
        "provider_options['http_options'] must be a dict (or google.genai.types.HttpOptions), "
        f"got {type(value).__name__}"
    )


def resolve_client_options(
    provider_options: Mapping[str, Any], environ: Mapping[str, str]
) -> ClientOptions:
    """Decide how to authenticate, before any connection.

    Gemini API: ``provider_options["api_key"]``, else GOOGLE_API_KEY, else GEMINI_API_KEY
    (the SDK's own precedence). Vertex AI (``vertexai=True`` or GOOGLE_GENAI_USE_VERTEXAI=1):
    project/location from the options or GOOGLE_CLOUD_PROJECT/GOOGLE_CLOUD_LOCATION with
    application default credentials, or an express-mode API key.
    """
    unknown = sorted(set(provider_options) - KNOWN_OPTIONS)
    if unknown:
        logger.warning(
            "ignoring unknown Gemini provider_options %s (known: %s)",
            unknown,
            sorted(KNOWN_OPTIONS),
        )
    if "vertexai" in provider_options and provider_options["vertexai"] is not None:
        vertexai = _as_bool(provider_options["vertexai"])
    else:
        vertexai = _as_bool(environ.get("GOOGLE_GENAI_USE_VERTEXAI", ""))
    http_options = _http_options_dict(provider_options.get("http_options"))

    explicit_key = provider_options.get("api_key")
    if explicit_key is not None and not isinstance(explicit_key, str):
        raise ProviderError("provider_options['api_key'] must be a string")
    env_key = environ.get("GOOGLE_API_KEY") or environ.get("GEMINI_API_KEY") or None
    api_key = explicit_key or env_key

    if not vertexai:
        if provider_options.get("project") or provider_options.get("location"):
            raise ProviderError(
                "provider_options 'project'/'location' only apply to Vertex AI: also pass "
                "vertexai=True (or set GOOGLE_GENAI_USE_VERTEXAI=1)"
            )
        if not api_key:
            raise ProviderError(
                "no Gemini API key: set GEMINI_API_KEY or GOOGLE_API_KEY, or pass "
                "provider_options={'api_key': ...}; for Vertex AI set "
                "GOOGLE_GENAI_USE_VERTEXAI=1 with GOOGLE_CLOUD_PROJECT and "
                "GOOGLE_CLOUD_LOCATION"
            )
        http_options.setdefault("api_version", LIVE_API_VERSION)
        return ClientOptions(vertexai=False, api_key=api_key, http_options=http_options)

    explicit_project = provider_options.get("project") or None
    project = explicit_project or environ.get("GOOGLE_CLOUD_PROJECT") or None
    location = provider_options.get("location") or environ.get("GOOGLE_CLOUD_LOCATION") or None
    if explicit_key and not explicit_project:
        # Express mode: an API key given in code wins over a project from the environment.
        return ClientOptions(vertexai=True, api_key=explicit_key, http_options=http_options)
    if project:
        # Application default credentials for the project.
        return ClientOptions(
            vertexai=True,
            project=project,
            location=location or "us-central1",
            http_options=http_options,
        )
    if env_key:
        return ClientOptions(vertexai=True, api_key=env_key, http_options=http_options)
    raise ProviderError(
        "Vertex AI needs a project (provider_options['project'] or GOOGLE_CLOUD_PROJECT, "
        "with application default credentials) or an API key (provider_options['api_key'] "
        "or GOOGLE_API_KEY)"
    )


def resolve_model(model: str, environ: Mapping[str, str]) -> str:
    """The model to connect to: aliases pick GEMINI_LIVE_MODEL or `DEFAULT_MODEL`."""
    if model in MODEL_ALIASES:
        return environ.get("GEMINI_LIVE_MODEL") or DEFAULT_MODEL
    return model


__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_OPTIONS",
    "LIVE_API_VERSION",
    "MODEL_ALIASES",
    "ClientOptions",
    "resolve_client_options",
    "resolve_model",
]
