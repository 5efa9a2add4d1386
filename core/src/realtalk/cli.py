"""The ``realtalk`` command line.

Subcommands live in `COMMANDS`, a table of ``name -> "module:attribute"``; the
attribute is a `Command` (help text, ``configure(parser)``, ``run(args) -> int``).
A new subcommand is a new module plus one line in the table, and a subcommand whose module
cannot be imported (an optional dependency missing) breaks only itself.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

COMMANDS: dict[str, str] = {
    "plugins": "realtalk.cli:PLUGINS",
    "api": "realtalk.bridge.cli:API",
    "demo": "realtalk.demo:DEMO",
}
"""Subcommand name -> ``"module:attribute"`` of its `Command`."""


@dataclass(frozen=True)
class Command:
    """One subcommand of ``realtalk``."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------- realtalk plugins


def _configure_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def plugins_report() -> dict[str, Any]:
    """What ``realtalk plugins --json`` prints: loaded plugins, blocked names, failures."""
    from .plugins import get_registry

    registry = get_registry()
    plugins = []
    for info in registry.plugins:
        plugins.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "providers": [
                    {
                        "name": name,
                        "models": list(registry.providers[name].models),
                        "description": registry.providers[name].description,
                        "capabilities": registry.providers[name].capabilities.model_dump(),
                    }
                    for name in info.providers
                    if name in registry.providers
                ],
                "checkpointers": [
                    {
                        "scheme": scheme,
                        "description": registry.checkpointers[scheme].description,
                    }
                    for scheme in info.checkpointers
                    if scheme in registry.checkpointers
                ],
            }
        )
    return {
        "plugins": plugins,
        "blocked": list(registry.blocked),
        "failures": [
            {
                "name": failure.name,
                "distribution": failure.distribution,
                "version": failure.version,
                "message": failure.message,
            }
            for failure in registry.failures
        ],
    }


def _print_plugins_text(report: dict[str, Any], out: TextIO) -> None:
    if not report["plugins"]:
        print("No plugins loaded.", file=out)
    for plugin in report["plugins"]:
        source = plugin["distribution"] or "registered in process"
        if plugin["version"]:
            source += f" {plugin['version']}"
        print(f"{plugin['name']}  ({source})", file=out)
        for provider in plugin["providers"]:
            models = ", ".join(provider["models"]) or "by name only"
            line = f"  provider      {provider['name']}: {models}"
            if provider["description"]:
                line += f"  - {provider['description']}"
            print(line, file=out)
        for checkpointer in plugin["checkpointers"]:
            line = f"  checkpointer  {checkpointer['scheme']}://"
            if checkpointer["description"]:
                line += f"  - {checkpointer['description']}"
            print(line, file=out)
        if not plugin["providers"] and not plugin["checkpointers"]:
            print("  (lifecycle hooks only)", file=out)
    if report["blocked"]:
        print(f"\nBlocked by REALTALK_DISABLE_PLUGINS: {', '.join(report['blocked'])}", file=out)
    if report["failures"]:
        print("\nLoad failures:", file=out)
        for failure in report["failures"]:
            source = failure["distribution"] or "unknown distribution"
            if failure["version"]:
                source += f" {failure['version']}"
            print(f"  {failure['name']}  ({source}): {failure['message']}", file=out)
    else:
        print("\nNo load failures.", file=out)


def _run_plugins(args: argparse.Namespace) -> int:
    report = plugins_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_plugins_text(report, sys.stdout)
    return 0


PLUGINS = Command(
    help="list installed plugins, what they offer, and load failures",
    configure=_configure_plugins,
    run=_run_plugins,
)


# ---------------------------------------------------------------------- dispatch


def _load_command(target: str) -> Command:
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, Command):
        raise TypeError(f"{target} is not a realtalk.cli.Command")
    return command


EXTRAS: dict[str, str] = {"api": "server", "demo": "demo"}
"""Subcommand -> the ``realtalk[...]`` extra that installs what it needs."""


def _unavailable(name: str, exc: Exception) -> Command:
    """A subcommand whose module failed to import: any arguments, one line naming the fix."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    # A third-party module missing is an extra not installed; a realtalk one is a bug.
    extra = EXTRAS.get(name) if missing and not missing.startswith("realtalk") else None
    why = f"{type(exc).__name__}: {exc}"
    if extra:
        line = f"realtalk {name} needs the {extra!r} extra ({why}): pip install 'realtalk[{extra}]'"
    else:
        line = f"realtalk {name} is unavailable ({why})"

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(_any_arguments=True)  # main() lets run() explain instead

    def run(args: argparse.Namespace) -> int:
        print(line, file=sys.stderr)
        return 2

    what = f"install realtalk[{extra}]" if extra else f"run `realtalk {name}` for why"
    return Command(help=f"(unavailable: {what})", configure=configure, run=run)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line on stderr (exit 2), not the
    whole usage block: the line names the option and points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def positive_float(text: str) -> float:
    """argparse type: a number greater than zero (seconds, rates)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer from ``low`` to ``high`` inclusive."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The ``realtalk`` argument parser with every subcommand of `COMMANDS`."""
    from . import __version__

    parser = ArgumentParser(
        prog="realtalk", description="realtalk: provider-agnostic realtime audio agents"
    )
    parser.add_argument("--version", action="version", version=f"realtalk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, target in COMMANDS.items():
        try:
            command = _load_command(target)
        except Exception as exc:
            command = _unavailable(name, exc)
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(_run=command.run, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``realtalk`` console script and ``python -m realtalk``."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "_any_arguments", False):
        # name the subcommand whose options these are not
        sub = getattr(args, "_parser", parser)
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    result: int = run(args)
    return result


__all__ = [
    "COMMANDS",
    "EXTRAS",
    "PLUGINS",
    "ArgumentParser",
    "Command",
    "build_parser",
    "int_in",
    "main",
    "plugins_report",
    "positive_float",
]
