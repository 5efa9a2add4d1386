"""The demo command's body: pick the mode, run the session, write the WAV, summarise."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TextIO

from .._installed import installed
from ..config import INPUT_SAMPLE_RATE
from .cassettes import inspect_cassette
from .display import format_json_summary, format_summary
from .session import DemoError, DemoPlan, DemoResult, api_key_from_env, run_session
from .wavfile import AudioFileError, WavInfo, check_writable, read_wav, write_wav

DATA = resources.files("realtalk.demo") / "data"
BUNDLED_CASSETTE = "demo.cassette.jsonl"
BUNDLED_QUESTION = "question.wav"


def _data_file(name: str) -> Path:
    path = Path(str(DATA / name))
    if not path.is_file():
        raise DemoError(f"the demo's data file {name} is missing from the installation")
    return path


def _plan(args: argparse.Namespace) -> tuple[DemoPlan, WavInfo, list[str]]:
    """Decide the mode and check every option before any work starts (DemoError says
    what to change)."""
    if not installed("realtalk_gemini"):
        raise DemoError(
            "the demo's agent runs on Gemini Live, and the realtalk-gemini plugin is not "
            "installed: pip install 'realtalk[demo]'"
        )
    key = api_key_from_env()
    if args.record and not key:
        raise DemoError(
            "--record talks to Gemini Live: set GEMINI_API_KEY (or GOOGLE_API_KEY) first"
        )
    if args.replay:
        mode, cassette = "offline", Path(args.replay)
    elif args.record:
        mode, cassette = "record", None
    elif args.offline or not key:
        mode, cassette = "offline", _data_file(BUNDLED_CASSETTE)
    else:
        mode, cassette = "live", None
    if mode == "offline":
        _refuse_live_only(args, key)
    info_of = inspect_cassette(cassette) if cassette is not None else None
    check_writable(args.output)
    if args.record:
        check_writable(args.record, "--record")
    source = Path(args.input) if args.input else _data_file(BUNDLED_QUESTION)
    question, info = read_wav(source, INPUT_SAMPLE_RATE)
    notes: list[str] = []
    if mode == "offline":
        name = cassette.name if cassette else "?"
        notes.append(f"offline: replaying {name} on a local fake Gemini server (no API key used)")
        if args.input and not args.replay:
            notes.append(
                "note: the bundled session answers the bundled question, whatever yours says"
            )
        if info_of is not None and info_of.resume_handle:
            notes.append(
                f"resuming: the cassette's session starts from resumption handle "
                f"{info_of.resume_handle!r}, so the demo's thread starts with it"
            )
    elif mode == "record":
        notes.append(f"live: Gemini Live, recording the session to {args.record}")
    else:
        notes.append("live: Gemini Live (GEMINI_API_KEY is set; --offline replays instead)")
    model = args.model or os.environ.get("GEMINI_LIVE_MODEL") or "gemini"
    if mode == "offline":
        model = (info_of.model if info_of else None) or "gemini"
    plan = DemoPlan(
        mode=mode,
        question=question,
        cassette=cassette,
        record_path=Path(args.record) if args.record else None,
        api_key=key if mode != "offline" else None,
        model=model,
        voice=args.voice,
        realtime_pace=mode != "offline",
        timeout=args.timeout,
        resume_handle=info_of.resume_handle if info_of else None,
    )
    return plan, info, notes


def _refuse_live_only(args: argparse.Namespace, key: str | None) -> None:
    """--model and --voice shape a live session; offline the cassette decides both."""
    for option, value in (("--model", args.model), ("--voice", args.voice)):
        if value:
            how = "run without --offline/--replay" if key else "set GEMINI_API_KEY"
            raise DemoError(
                f"{option} applies to live sessions only; offline the cassette decides it "
                f"({how} to talk to Gemini Live, or leave {option} out)"
            )


def _describe_input(info: WavInfo, bundled: bool) -> str:
    layout = "mono" if info.channels == 1 else f"{info.channels} channels"
    what = "the bundled question" if bundled else str(info.path)
    converted = (
        ""
        if (info.sample_rate, info.channels) == (INPUT_SAMPLE_RATE, 1)
        else (f", converted to {INPUT_SAMPLE_RATE} Hz mono")
    )
    return f"{what} ({info.seconds:.2f} s, {info.sample_rate} Hz {layout}{converted})"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``realtalk demo`` with parsed ``args``; returns the exit code."""
    out = out or sys.stdout
    if args.no_color:
        os.environ["NO_COLOR"] = "1"
    try:
        plan, info, notes = _plan(args)
    except (DemoError, AudioFileError) as exc:
        print(f"realtalk demo: {exc}", file=sys.stderr)
        return 2
    print("realtalk demo", file=out)
    for note in notes:
        print(f"  {note}", file=out)
    print(f"  question: {_describe_input(info, not args.input)}", file=out)
    print("  agent:    Gemini Live via the realtalk-gemini plugin, tool get_weather\n", file=out)
    try:
        result = asyncio.run(run_session(plan, out))
    except DemoError as exc:
        print(f"realtalk demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrealtalk demo: interrupted", file=sys.stderr)
        return 130
    return _finish(args, plan, result, out)


def _finish(args: argparse.Namespace, plan: DemoPlan, result: DemoResult, out: TextIO) -> int:
    rows: list[tuple[str, str]] = []
    if result.audio:
        try:
            path = write_wav(
                args.output,
                result.audio,
                result.sample_rate,
                out_rate=args.output_rate,
                channels=args.output_channels,
            )
        except (AudioFileError, OSError) as exc:
            print(f"realtalk demo: {exc}", file=sys.stderr)
            return 2
        rate = args.output_rate or result.sample_rate
        rows.append(("output", f"{path} ({rate} Hz, {args.output_channels} channel(s))"))
    else:
        rows.append(("output", "nothing written: the model sent no audio"))
    if plan.mode == "record" and plan.record_path is not None:
        rows.append(("recorded", f"{plan.record_path} (replay: realtalk demo --replay PATH)"))
    print("", file=out)
    print(format_summary(result.stats, rows, replayed=plan.mode == "offline"), file=out)
    for problem in result.problems:
        print(f"  problem: {problem}", file=out)
    if args.json:
        extra: dict[str, object] = {
            "mode": plan.mode,
            "output": str(args.output) if result.audio else None,
            "problems": result.problems,
        }
        print(json.dumps(format_json_summary(result.stats, extra)), file=out)
    ok = result.stats.turns > 0 and bool(result.audio) and not result.problems
    return 0 if ok else 1


__all__ = ["run"]
