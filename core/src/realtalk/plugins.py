"""The plugin registry: which providers and checkpointers are installed, and from where.

Plugins are pluggy plugins of the project ``realtalk`` (hook specifications in
`realtalk.hookspecs`). The registry loads, in this order:

1. the builtin plugin modules of core (`BUILTIN_PLUGINS`, e.g. the checkpointers for
   ``memory://``, ``sqlite://`` and ``postgresql://``);
2. every entry point of the group ``realtalk``, one at a time.

Each plugin is loaded on its own: a plugin whose import fails, whose registration hook
raises, or that claims a name another plugin already took is recorded in
`PluginRegistry.failures` (with its name, distribution and the reason) and skipped;
the others still load. "Fails" means any exception, ``SystemExit`` (a plugin calling
``sys.exit()``) and every other ``BaseException`` included, except ``KeyboardInterrupt``,
which stays the user's: the same isolation holds for lifecycle hooks and for the
factories plugins register. Names in ``REALTALK_DISABLE_PLUGINS`` (comma separated) are not
loaded at all.

Two plugins offering the same provider name (or checkpointer scheme) is an error, never a
silent "first one wins": the second plugin is not loaded (a failure naming both), and
resolving that name raises `PluginConflictError` naming both plugins until one of
them is uninstalled or disabled.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import pluggy

from .checkpoint.base import CheckpointerError
from .hookspecs import PROJECT, CheckpointerRecord, ProviderRecord, RealtalkSpecs
from .provider import ProviderError

if TYPE_CHECKING:
    from .checkpoint.base import Checkpointer
    from .provider import Provider

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "realtalk"
"""Entry-point group that plugin distributions declare (``[project.entry-points.realtalk]``)."""

DISABLE_ENV = "REALTALK_DISABLE_PLUGINS"
"""Environment variable: comma-separated plugin names that must not be loaded."""

BUILTIN_PLUGINS: dict[str, str] = {"realtalk.checkpoint": "realtalk.checkpoint.plugin"}
"""Plugin name -> module of the plugins that ship inside core (loaded before entry points)."""

LIFECYCLE_HOOKS = frozenset(
    {
        "realtalk_session_start",
        "realtalk_session_end",
        "realtalk_turn_start",
        "realtalk_turn_end",
        "realtalk_tool_call",
        "realtalk_tool_result",
        "realtalk_reconnect",
        "realtalk_error",
        "realtalk_metrics",
    }
)
"""Hooks `call_lifecycle()` may call."""

_SCHEME_ALIASES = {"postgres": "postgresql"}


class PluginError(Exception):
    """A plugin could not be loaded or registered."""


class PluginConflictError(PluginError, ProviderError, CheckpointerError):
    """Two plugins claim the same provider name or checkpointer scheme.

    It is a `ProviderError` and a
    `CheckpointerError` too, so callers that catch those while
    resolving a provider or opening a checkpointer also catch conflicts. ``what`` is
    ``"provider"`` or ``"checkpointer scheme"``, ``name`` the contested name and
    ``plugins`` the descriptions of the plugins that claim it.
    """

    def __init__(
        self, message: str, *, what: str = "", name: str = "", plugins: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.what = what
        self.name = name
        self.plugins = plugins


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and what it offers."""

    name: str
    distribution: str | None
    version: str | None
    providers: tuple[str, ...] = ()
    checkpointers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped, and why."""

    name: str
    distribution: str | None
    version: str | None
    message: str


def _contain(exc: BaseException) -> None:
    """Re-raise ``exc`` if it is the user's interrupt; any other failure is the plugin's.

    Called first in every ``except BaseException`` around plugin code, so that a plugin's
    ``sys.exit()`` (or a stray ``BaseException``) can never end the host process.
    """
    if isinstance(exc, KeyboardInterrupt):
        raise exc


def _explain(exc: BaseException) -> str:
    """``Type: text`` of a plugin's failure (``SystemExit: 3``, or the bare type name)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(name: str, distribution: str | None, version: str | None) -> str:
    if distribution is None:
        return f"{name!r}"
    return f"{name!r} ({distribution} {version or ''})".replace(" )", ")")


@dataclass
class PluginRegistry:
    """Everything the plugins registered; built by `get_registry()`."""

    manager: pluggy.PluginManager
    providers: dict[str, ProviderRecord] = field(default_factory=dict)
    checkpointers: dict[str, CheckpointerRecord] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    provider_conflicts: dict[str, list[str]] = field(default_factory=dict)
    """Provider name -> descriptions of every plugin that claimed it."""
    checkpointer_conflicts: dict[str, list[str]] = field(default_factory=dict)
    """Checkpointer scheme -> descriptions of every plugin that claimed it."""

    # ------------------------------------------------------------------ loading

    def add_plugin(
        self,
        obj: object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        """Register ``obj`` (a module or object with ``@hookimpl`` functions) under ``name``.

        Collects its providers and checkpointers. Raises `PluginError` (and
        registers nothing) if the name is taken, a hook raises or a record is invalid,
        `PluginConflictError` if it claims a provider name or scheme already taken.
        """
        me = _describe(name, distribution, version)
        if self.manager.has_plugin(name):
            raise PluginError(f"a plugin named {name!r} is already loaded: {me} was skipped")
        try:
            self.manager.register(obj, name=name)
        except BaseException as exc:
            _contain(exc)
            raise PluginError(f"plugin {me} could not be registered: {_explain(exc)}") from exc
        try:
            unknown = [
                caller.name
                for caller in self.manager.get_hookcallers(obj) or []
                if not caller.has_spec()
            ]
            if unknown:
                raise PluginError(
                    f"plugin {me} implements unknown hooks {', '.join(sorted(unknown))} "
                    f"(see realtalk.hookspecs for the hook names)"
                )
            providers = self._collect(obj, "realtalk_register_providers", ProviderRecord, me)
            checkpointers = self._collect(
                obj, "realtalk_register_checkpointers", CheckpointerRecord, me
            )
            provider_names = self._check_names(
                "provider", [r.name for r in providers], self.providers, name, me
            )
            schemes = self._check_names(
                "checkpointer scheme",
                [_clean_scheme(r.scheme) for r in checkpointers],
                self.checkpointers,
                name,
                me,
            )
        except BaseException:
            self.manager.unregister(obj)
            raise
        for record in providers:
            self.providers[record.name] = dataclasses.replace(record, plugin=name)
        for record, scheme in zip(checkpointers, schemes, strict=True):
            self.checkpointers[scheme] = dataclasses.replace(record, scheme=scheme, plugin=name)
        info = PluginInfo(name, distribution, version, tuple(provider_names), tuple(schemes))
        self.plugins.append(info)
        return info

    def _collect(self, obj: object, hook: str, kind: type[Any], me: str) -> list[Any]:
        records: list[Any] = []

        def register(record: Any) -> None:
            if not isinstance(record, kind):
                raise TypeError(f"register() takes a {kind.__name__}, got {type(record).__name__}")
            records.append(record)

        caller = getattr(self.manager.hook, hook)
        for impl in caller.get_hookimpls():
            if impl.plugin is not obj or impl.hookwrapper or impl.wrapper:
                continue
            try:
                impl.function(*[{"register": register}[arg] for arg in impl.argnames])
            except BaseException as exc:
                _contain(exc)
                raise PluginError(f"plugin {me}: {hook} raised {_explain(exc)}") from exc
        return records

    def _check_names(
        self, what: str, names: list[str], taken: dict[str, Any], plugin: str, me: str
    ) -> list[str]:
        seen: set[str] = set()
        for name in names:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {me} registered a {what} without a name")
            if name in seen:
                raise PluginError(f"plugin {me} registers {what} {name!r} twice")
            seen.add(name)
            if name in taken:
                other = self._describe_plugin(taken[name].plugin)
                raise PluginConflictError(
                    f"{what} {name!r} is offered by two plugins, {other} and {me}: "
                    f"{me} was not loaded. Uninstall one of them or disable it with "
                    f"{DISABLE_ENV}={plugin}",
                    what=what,
                    name=name,
                    plugins=(other, me),
                )
        return names

    def _describe_plugin(self, name: str) -> str:
        for info in self.plugins:
            if info.name == name:
                return _describe(info.name, info.distribution, info.version)
        return repr(name)

    def record_failure(
        self, name: str, distribution: str | None, version: str | None, exc: BaseException
    ) -> None:
        """Remember that a plugin was skipped (and log it)."""
        message = str(exc) if isinstance(exc, PluginError) else _explain(exc)
        self.failures.append(PluginFailure(name, distribution, version, message))
        logger.warning("realtalk plugin %s skipped: %s", name, message)
        if isinstance(exc, PluginConflictError) and exc.plugins:
            conflicts = (
                self.provider_conflicts if exc.what == "provider" else self.checkpointer_conflicts
            )
            claimants = conflicts.setdefault(exc.name, [exc.plugins[0]])
            claimants.extend(p for p in exc.plugins[1:] if p not in claimants)

    # ------------------------------------------------------------------ lookups

    def resolve_provider(self, model: str, provider: str | None = None) -> ProviderRecord:
        """The provider named ``provider``, or else the one whose model patterns match ``model``."""
        if provider is not None:
            self._raise_if_conflict("provider", provider, self.provider_conflicts)
            record = self.providers.get(provider)
            if record is None:
                raise ProviderError(
                    f"no provider named {provider!r} is installed (model {model!r}); "
                    f"{self._installed_providers()}"
                )
            return record
        matches = [
            record
            for record in self.providers.values()
            if any(fnmatchcase(model, pattern) for pattern in record.models)
        ]
        for record in matches:
            self._raise_if_conflict("provider", record.name, self.provider_conflicts)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ProviderError(
                f"no installed provider claims model {model!r}; {self._installed_providers()}. "
                "Name one with RealtimeConfig(provider=...) or install its plugin"
            )
        names = ", ".join(f"{r.name!r} (plugin {r.plugin!r})" for r in matches)
        raise ProviderError(
            f"model {model!r} is claimed by several providers: {names}; "
            "choose one with RealtimeConfig(provider=...)"
        )

    def open_checkpointer(self, url: str) -> Checkpointer:
        """A checkpointer for ``url``, built by the plugin that registered its scheme."""
        scheme = _url_scheme(url)
        key = scheme if scheme in self.checkpointers else _normalise_scheme(scheme)
        self._raise_if_conflict("checkpointer scheme", key, self.checkpointer_conflicts)
        record = self.checkpointers.get(key)
        if record is None:
            available = ", ".join(f"{s}://" for s in sorted(self.checkpointers)) or "none"
            raise CheckpointerError(
                f"no checkpointer is installed for URL scheme {scheme!r} "
                f"(available: {available}); install a plugin that offers it "
                "(see `realtalk plugins`)"
            )
        try:
            return record.factory(url)
        except CheckpointerError:
            raise
        except BaseException as exc:
            _contain(exc)
            message = _scrub(_explain(exc), url)
            raise CheckpointerError(
                f"checkpointer plugin {record.plugin!r} could not open a {key!r} URL: {message}"
            ) from None

    def _raise_if_conflict(self, what: str, name: str, conflicts: dict[str, list[str]]) -> None:
        if name in conflicts:
            raise PluginConflictError(
                f"{what} {name!r} is offered by several plugins: {' and '.join(conflicts[name])}; "
                f"uninstall one or disable it with {DISABLE_ENV}",
                what=what,
                name=name,
                plugins=tuple(conflicts[name]),
            )

    def _installed_providers(self) -> str:
        if not self.providers:
            text = "no providers are installed (pip install realtalk-gemini)"
        else:
            listed = ", ".join(
                f"{r.name} ({', '.join(r.models) or 'by name only'})"
                for r in self.providers.values()
            )
            text = f"installed providers: {listed}"
        if self.failures:
            text += f" ({len(self.failures)} plugin(s) failed to load: run `realtalk plugins`)"
        return text


# ---------------------------------------------------------------------- loading


def disabled_plugins() -> set[str]:
    """Plugin names blocked by ``REALTALK_DISABLE_PLUGINS``."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    """The entry points of the ``realtalk`` group (tests replace this function)."""
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def _core_version() -> str | None:
    try:
        return importlib.metadata.version("realtalk")
    except importlib.metadata.PackageNotFoundError:
        return None


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(RealtalkSpecs)
    return manager


def build_registry() -> PluginRegistry:
    """Load builtin plugins, then entry points one by one, into a new registry."""
    registry = PluginRegistry(_new_manager())
    blocked = disabled_plugins()
    core_version = _core_version()
    for name, module_name in BUILTIN_PLUGINS.items():
        if name in blocked:
            registry.blocked.append(name)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not part of this build: nothing to load
                continue
            registry.record_failure(name, "realtalk", core_version, exc)
            continue
        except BaseException as exc:
            _contain(exc)
            registry.record_failure(name, "realtalk", core_version, exc)
            continue
        _add_and_record(registry, module, name, "realtalk", core_version)
    for entry_point in _entry_points():
        dist = getattr(entry_point, "dist", None)
        distribution = dist.name if dist is not None else None
        version = dist.version if dist is not None else None
        if entry_point.name in blocked:
            registry.blocked.append(entry_point.name)
            continue
        try:
            obj = entry_point.load()
        except BaseException as exc:
            _contain(exc)
            registry.record_failure(
                entry_point.name,
                distribution,
                version,
                PluginError(f"importing {entry_point.value!r} failed: {_explain(exc)}"),
            )
            continue
        _add_and_record(registry, obj, entry_point.name, distribution, version)
    return registry


def _add_and_record(
    registry: PluginRegistry,
    obj: object,
    name: str,
    distribution: str | None,
    version: str | None,
) -> None:
    try:
        registry.add_plugin(obj, name, distribution=distribution, version=version)
    except BaseException as exc:
        _contain(exc)
        registry.record_failure(name, distribution, version, exc)


_lock = threading.RLock()
_registry: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry, built on first use (thread-safe, cached)."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = build_registry()
        return _registry


def reset_plugins() -> None:
    """Forget the registry (and in-process plugins); the next use reloads everything."""
    global _registry
    with _lock:
        _registry = None


def register_plugin(obj: object, name: str) -> PluginInfo:
    """Register an in-process plugin (tests, applications) in the process-wide registry.

    Raises `PluginError` / `PluginConflictError` instead of recording a
    failure: the caller is right here to fix it.
    """
    with _lock:
        return get_registry().add_plugin(obj, name)


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager behind the registry."""
    return get_registry().manager


def resolve_provider(model: str, provider: str | None = None) -> ProviderRecord:
    """The provider record for ``provider`` by name, or the one claiming ``model``.

    Raises `ProviderError` when none or several match (listing
    the installed providers) and `PluginConflictError` when two plugins claim it.
    """
    return get_registry().resolve_provider(model, provider)


def create_provider(record: ProviderRecord) -> Provider:
    """Build the provider ``record`` offers, isolated like any plugin code.

    The factory is where a provider plugin imports its SDK; whatever it raises (even
    ``SystemExit``, but ``KeyboardInterrupt``) becomes a ProviderError naming the plugin.
    """
    try:
        return record.factory()
    except ProviderError:
        raise
    except BaseException as exc:
        _contain(exc)
        raise ProviderError(
            f"provider plugin {record.plugin or record.name!r} could not create provider "
            f"{record.name!r}: {_explain(exc)}"
        ) from exc


def open_checkpointer(url: str) -> Checkpointer:
    """Build the checkpointer for ``url`` by its scheme (``memory://``, ``sqlite:///x.db``, ...).

    ``postgres://`` is an alias of ``postgresql://``. An unknown scheme raises
    `CheckpointerError` naming the scheme and the available
    ones; the URL itself (which may hold a password) is never part of the message.
    """
    return get_registry().open_checkpointer(url)


def call_lifecycle(hook: str, **kwargs: Any) -> None:
    """Call a lifecycle hook on every plugin; a plugin that raises is logged, not propagated.

    ``hook`` is a lifecycle hook name with or without the ``realtalk_`` prefix
    (``"session_start"`` or ``"realtalk_session_start"``).
    """
    name = hook if hook.startswith("realtalk_") else f"realtalk_{hook}"
    if name not in LIFECYCLE_HOOKS:
        raise ValueError(
            f"unknown lifecycle hook {hook!r}; known: {', '.join(sorted(LIFECYCLE_HOOKS))}"
        )
    caller = getattr(plugin_manager().hook, name)
    for impl in caller.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            args = [kwargs[arg] for arg in impl.argnames]
        except KeyError as exc:
            raise TypeError(f"{name}() is missing argument {exc}") from None
        try:
            impl.function(*args)
        except BaseException as exc:
            _contain(exc)
            logger.error(
                "realtalk plugin %r raised in %s: %s",
                impl.plugin_name,
                name,
                _explain(exc),
                exc_info=exc,
            )


# ---------------------------------------------------------------------- URLs


def _url_scheme(url: str) -> str:
    if not isinstance(url, str):
        raise CheckpointerError(f"a checkpointer URL must be a str, got {type(url).__name__}")
    match = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):", url)
    if match is None:
        raise CheckpointerError(
            "not a checkpointer URL: expected scheme://... (e.g. memory://, "
            "sqlite:///threads.db, postgresql://user@host/db)"
        )
    return match.group(1).lower()


def _clean_scheme(scheme: str) -> str:
    """A registered scheme as looked up: lower case, without ``://``."""
    if not isinstance(scheme, str):
        return scheme
    return scheme.lower().removesuffix("://").removesuffix(":")


def _normalise_scheme(scheme: str) -> str:
    return _SCHEME_ALIASES.get(scheme, scheme)


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url`` (user:password@ or password=...)."""
    secrets: list[str] = []
    netloc = re.search(r"//[^/@:?#]*:([^@/?#]*)@", url)
    if netloc and netloc.group(1):
        secrets.append(netloc.group(1))
    secrets += [m for m in re.findall(r"password=([^&\s]+)", url, re.I) if m]
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "LIFECYCLE_HOOKS",
    "PluginConflictError",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginRegistry",
    "build_registry",
    "call_lifecycle",
    "create_provider",
    "disabled_plugins",
    "get_registry",
    "open_checkpointer",
    "plugin_manager",
    "register_plugin",
    "reset_plugins",
    "resolve_provider",
]
