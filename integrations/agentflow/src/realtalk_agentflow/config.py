"""Realtime configuration across the two frameworks, and what a session may override.

Agentflow describes a session with its own ``RealtimeConfig``; realtalk's runtime needs
realtalk's. `to_realtalk_config()` translates one into the other (provider and
provider options come from the integration's constructor, never from Agentflow's config).
`narrow_overrides()` applies ``config["realtime"]``, what Agentflow's API server sends
from a client's first frame, under the rules realtalk's bridge applies: a client may choose
among the operator's options and narrow the tools, never widen them, and a model override
never moves the session to another provider (or the operator's credentials with it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from tenxgraph.core.realtime.base import RealtimeConfig as AgentflowRealtimeConfig

from realtalk.config import RealtimeConfig, ReconnectConfig, VADConfig

log = logging.getLogger("realtalk_agentflow")

OVERRIDABLE = frozenset(
    {
        "model",
        "voice",
        "response_modalities",
        "vad",
        "system_instruction",
        "input_audio_transcription",
        "output_audio_transcription",
        "tools_tags",
    }
)
"""``config["realtime"]`` keys a session may set; the rest (tools, reconnect, resumption,
provider options) stay the operator's."""


def _sensitivity(value: Any) -> str:
    """Agentflow's free-form sensitivity hint as realtalk's ``low``/``high``/``default``."""
    text = str(value or "").lower()
    if "low" in text:
        return "low"
    if "high" in text:
        return "high"
    return "default"


def to_realtalk_vad(vad: Any) -> VADConfig:
    """realtalk's VADConfig from Agentflow's (or realtalk's, or a dict of either)."""
    if isinstance(vad, VADConfig):
        return vad
    data = vad.model_dump() if isinstance(vad, BaseModel) else dict(vad or {})
    return VADConfig(
        enabled=bool(data.get("enabled", True)),
        start_sensitivity=_sensitivity(data.get("start_sensitivity")),  # type: ignore[arg-type]
        end_sensitivity=_sensitivity(data.get("end_sensitivity")),  # type: ignore[arg-type]
        prefix_padding_ms=data.get("prefix_padding_ms"),
        silence_duration_ms=data.get("silence_duration_ms"),
    )


def to_realtalk_config(
    config: AgentflowRealtimeConfig | RealtimeConfig,
    *,
    provider: str | None,
    provider_options: Mapping[str, Any] | None,
) -> RealtimeConfig:
    """realtalk's RealtimeConfig for an Agentflow (or realtalk) one."""
    options = dict(provider_options or {})
    if isinstance(config, RealtimeConfig):
        updates: dict[str, Any] = {}
        if provider is not None:
            updates["provider"] = provider
        if options:
            updates["provider_options"] = options
        return config.merged(**updates) if updates else config
    rc = config.reconnect
    return RealtimeConfig(
        model=config.model,
        provider=provider,
        voice=config.voice,
        system_instruction=config.system_instruction,
        input_audio_transcription=config.input_audio_transcription,
        output_audio_transcription=config.output_audio_transcription,
        response_modalities=list(config.response_modalities),
        vad=to_realtalk_vad(config.vad),
        reconnect=ReconnectConfig(
            enabled=rc.max_attempts > 0,
            base_delay=rc.base_delay,
            max_delay=max(rc.max_delay, rc.base_delay),
            max_attempts=rc.max_attempts,
        ),
        session_resumption=config.session_resumption,
        context_window_compression=config.context_window_compression,
        provider_options=options,
    )


def to_agentflow_config(config: RealtimeConfig, tools_tags: list[str] | None = None) -> Any:
    """Agentflow's RealtimeConfig for a realtalk one (what Agentflow's server inspects)."""
    vad = config.vad
    return AgentflowRealtimeConfig(
        model=config.model,
        response_modalities=list(config.response_modalities),
        voice=config.voice,
        system_instruction=config.system_instruction,
        input_audio_transcription=config.input_audio_transcription,
        output_audio_transcription=config.output_audio_transcription,
        vad={
            "enabled": vad.enabled,
            "start_sensitivity": None
            if vad.start_sensitivity == "default"
            else vad.start_sensitivity,
            "end_sensitivity": None if vad.end_sensitivity == "default" else vad.end_sensitivity,
            "prefix_padding_ms": vad.prefix_padding_ms,
            "silence_duration_ms": vad.silence_duration_ms,
        },
        reconnect={
            "base_delay": config.reconnect.base_delay,
            "max_delay": config.reconnect.max_delay,
            "max_attempts": config.reconnect.max_attempts if config.reconnect.enabled else 0,
        },
        context_window_compression=config.context_window_compression,
        session_resumption=config.session_resumption,
        tools_tags=tools_tags,
    )


def narrowed_tags(base: list[str] | None, requested: Any) -> list[str] | None:
    """The requested tags that ``base`` allows (None: keep ``base``; never widens)."""
    if isinstance(requested, str):
        requested = [requested]
    if not isinstance(requested, list | tuple | set):
        return base
    tags = [str(tag) for tag in requested if base is None or str(tag) in base]
    return tags or base


def _provider_name(model: str, provider: str | None) -> str | None:
    """The provider realtalk's plugins pick for ``model`` (None if none claims it)."""
    from realtalk.plugins import resolve_provider

    try:
        return resolve_provider(model, provider).name
    except Exception:
        return None


def narrow_overrides(
    base: RealtimeConfig,
    base_tags: list[str] | None,
    overrides: Mapping[str, Any] | None,
    *,
    fixed_provider: bool,
) -> tuple[RealtimeConfig, list[str] | None, list[str]]:
    """Apply a session's ``config["realtime"]`` to ``base``.

    Returns the session's config, its tool tags, and the refused keys (logged by the
    caller's session as a warning, never an error: Agentflow's server ignores them too).
    ``fixed_provider`` is True when the agent holds a provider instance: then a model
    override goes to that same instance and cannot reach another provider at all.
    """
    refused: list[str] = []
    updates: dict[str, Any] = {}
    tags = base_tags
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in OVERRIDABLE:
            refused.append(key)
            continue
        if key == "tools_tags":
            tags = narrowed_tags(base_tags, value)
        elif key == "vad":
            updates["vad"] = to_realtalk_vad(value)
        elif key == "response_modalities":
            updates["response_modalities"] = [value] if isinstance(value, str) else list(value)
        elif key == "model":
            if not isinstance(value, str) or not value.strip():
                refused.append(key)
                continue
            if value.strip() == base.model:
                continue
            if not fixed_provider:
                current = _provider_name(base.model, base.provider)
                if current is None or _provider_name(value.strip(), None) != current:
                    refused.append(key)
                    continue
                updates["provider"] = current  # pinned: the model never picks the provider
            updates["model"] = value.strip()
        else:
            updates[key] = value
    if not updates:
        return base, tags, refused
    try:
        return base.merged(**updates), tags, refused
    except Exception:
        log.warning("session overrides %s are invalid; the agent's config is used", sorted(updates))
        return base, tags, [*refused, *sorted(updates)]


__all__ = [
    "OVERRIDABLE",
    "narrow_overrides",
    "narrowed_tags",
    "to_agentflow_config",
    "to_realtalk_config",
    "to_realtalk_vad",
]
