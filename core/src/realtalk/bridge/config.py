"""``realtalk.json``: what ``realtalk api`` serves and how.

The file names the agent (``"module:attr"``), the checkpointer (a URL or ``"module:attr"``),
an optional ``.env`` file, and the ``auth``, ``limits``, ``overrides``, ``tokens`` and
``observability`` sections. Everything is validated when the file is read, so a typo fails
at startup with the field's name instead of on the first connection.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .auth import AuthConfig
from .limits import LimitsConfig
from .protocol import DEFAULT_OVERRIDES, OVERRIDE_FIELDS


class ConfigError(ValueError):
    """``realtalk.json`` (or something it points to) is unusable; the message says why."""


class TokensConfig(BaseModel):
    """The direct-to-provider token endpoint (Gemini ephemeral tokens)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    api_key_env: list[str] = Field(default_factory=lambda: ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
    """Environment variables tried, in order, for the provider API key."""
    uses: int = Field(default=1, ge=0, le=100)
    expire_seconds: int = Field(default=1800, ge=60, le=72_000)
    new_session_seconds: int = Field(default=60, ge=10, le=72_000)


class ObservabilityConfig(BaseModel):
    """OpenTelemetry for every session the server runs (needs ``realtalk-otel``)."""

    model_config = ConfigDict(extra="forbid")

    otel: bool = False
    """Trace sessions and record their metrics with realtalk-otel."""
    exporter: Literal["none", "console", "otlp"] = "none"
    """``"none"``: the process's own OpenTelemetry setup (e.g. ``opentelemetry-instrument``);
    ``"console"``: spans and metrics printed to stderr; ``"otlp"``: OTLP/HTTP to
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (needs opentelemetry-exporter-otlp-proto-http)."""
    service_name: str = "realtalk"
    capture_tool_arguments: bool = False
    """Record tool call arguments on their spans (off: they may hold what the user said)."""


class BridgeConfig(BaseModel):
    """The parsed ``realtalk.json``."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = None
    """``"module:attr"``: a compiled app (has ``arealtime``) or an agent (has ``compile``)."""
    checkpointer: str | None = None
    """A checkpointer URL (``sqlite:///x.db``, ``postgresql://...``) or ``"module:attr"``."""
    env: str | None = None
    """A ``.env`` file loaded before the agent module is imported."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    overrides: list[str] = Field(default_factory=lambda: list(DEFAULT_OVERRIDES))
    """Per-session fields a client may set in its first frame."""
    tokens: TokensConfig = Field(default_factory=TokensConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    websocket_compression: bool = False
    """Accept permessage-deflate when a client offers it (browsers always do). Off: PCM16
    speech shrinks by about a quarter, and compressing it doubled the bridge's CPU per
    session in the capacity benchmark (docs/bridge.md, Compression)."""
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    """Directory that relative paths and agent modules are resolved against."""

    def model_post_init(self, __context: Any) -> None:
        unknown = sorted(set(self.overrides) - set(OVERRIDE_FIELDS))
        if unknown:
            raise ValueError(
                f"overrides names unknown fields {unknown}; choose from {sorted(OVERRIDE_FIELDS)}"
            )

    @property
    def auth_required(self) -> bool:
        """Auth is on unless the config says otherwise or the server binds to loopback only."""
        return self.auth.is_required(self.host)


def load_config(path: str | os.PathLike[str]) -> BridgeConfig:
    """Read and validate ``realtalk.json``; relative paths resolve against its directory."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid JSON (nested too deeply)") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: must hold a JSON object, got {type(raw).__name__}")
    try:
        config = BridgeConfig.model_validate({**raw, "base_dir": file.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_one_line(exc)}") from None
    if config.env:
        load_env_file(config.base_dir / config.env)
    return config


def _one_line(exc: ValidationError) -> str:
    """Pydantic's errors as one line: ``field.path: message; ...``."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "config"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_env_file(path: Path, *, override: bool = False) -> dict[str, str]:
    """Load ``KEY=value`` lines into ``os.environ`` (existing variables win unless ``override``).

    Supports comments, blank lines, ``export KEY=...`` and single or double quotes; that
    covers what people put in ``.env`` files without another dependency.
    """
    if not path.is_file():
        raise ConfigError(f"env file {str(path)!r} not found")
    loaded: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("export "):
            text = text[len("export ") :].lstrip()
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ConfigError(f"{path}:{lineno}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        loaded[key] = value
        if override or key not in os.environ:
            os.environ[key] = value
    return loaded


def import_object(spec: str, base_dir: Path | None = None) -> Any:
    """Resolve ``"module:attr"`` (``base_dir`` is put on ``sys.path`` first)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{spec!r} must look like 'module:attribute'")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} for {spec!r}: {exc}") from exc
    except Exception as exc:  # the module itself raised: say where, not a traceback
        raise ConfigError(
            f"importing module {module_name!r} for {spec!r} raised "
            f"{type(exc).__name__}: {exc}{_where(exc)}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _where(exc: BaseException) -> str:
    """`` (file:line)`` of the innermost frame of ``exc`` outside the import machinery."""
    import traceback

    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith("<frozen")
    ]
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def is_object_spec(value: str) -> bool:
    """True for ``"module:attr"``, False for a URL such as ``sqlite:///x`` or ``memory://``."""
    head, sep, tail = value.partition(":")
    name = head.replace(".", "").replace("_", "")
    return bool(sep) and not tail.startswith("//") and name.isalnum()


__all__ = [
    "BridgeConfig",
    "ConfigError",
    "ObservabilityConfig",
    "TokensConfig",
    "import_object",
    "is_object_spec",
    "load_config",
    "load_env_file",
]
