"""``realtalk demo``: one complete voice session, offline by default.

A spoken question goes in, an agent with a weather tool answers, ``out.wav`` comes out and
the terminal shows the session live. This module only declares the command; the work
(google-genai, the fake server, numpy) loads when the command runs, so ``realtalk
--help`` stays fast.
"""

from __future__ import annotations

import argparse

from ..cli import Command, int_in, positive_float


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "modes:\n"
        "  no GEMINI_API_KEY   replay the bundled session against a local fake Gemini server\n"
        "  GEMINI_API_KEY set  talk to Gemini Live (use --offline to replay anyway)\n"
        "  --record PATH       talk to Gemini Live and record the session as a cassette\n"
        "  --replay PATH       replay a recorded cassette offline"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--offline", action="store_true", help="replay the bundled session even with an API key"
    )
    mode.add_argument("--replay", metavar="PATH", help="replay a cassette file offline")
    mode.add_argument(
        "--record", metavar="PATH", help="record a live session (needs GEMINI_API_KEY) to PATH"
    )
    parser.add_argument(
        "--input", metavar="WAV", help="your own spoken question (any rate or channel count)"
    )
    parser.add_argument(
        "--output", metavar="WAV", default="out.wav", help="where the answer goes (out.wav)"
    )
    parser.add_argument(
        "--output-rate",
        type=int_in(8000, 192_000),
        metavar="HZ",
        help="sample rate of the output, 8000 to 192000 (24000)",
    )
    parser.add_argument(
        "--output-channels",
        type=int_in(1, 8),
        default=1,
        metavar="N",
        help="channels of the output, 1 to 8 (1)",
    )
    parser.add_argument(
        "--model", help="live model (GEMINI_LIVE_MODEL, else the plugin's); live sessions only"
    )
    parser.add_argument("--voice", help="Gemini voice name, e.g. Puck or Kore; live sessions only")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=90.0,
        metavar="S",
        help="give up after S seconds (90)",
    )
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    parser.add_argument("--no-color", action="store_true", help="plain text output")


def _run(args: argparse.Namespace) -> int:
    from .main import run

    return run(args)


DEMO = Command(
    help="run a complete voice session (offline unless GEMINI_API_KEY is set)",
    configure=_configure,
    run=_run,
)

__all__ = ["DEMO"]
