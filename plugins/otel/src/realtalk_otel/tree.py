"""A finished trace as an indented text tree (docs, tests, a quick look in a terminal)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

SHOWN = (
    "realtalk.tool.outcome",
    "realtalk.turn.input_end",
    "realtalk.turn.time_to_first_audio",
    "realtalk.turn.interrupted",
    "realtalk.reconnect.cause",
    "realtalk.reconnect.resumed",
    "realtalk.reconnect.gap",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)
"""Attributes worth a glance, shown after each span's name and duration."""


def format_span_tree(spans: Iterable[Any], *, attributes: Sequence[str] = SHOWN) -> str:
    """Finished SDK spans (e.g. from ``InMemorySpanExporter.get_finished_spans()``) as a
    tree: each line the span's name, its duration and the chosen attributes."""
    spans = list(spans)
    ids = {span.context.span_id for span in spans}
    children: dict[int | None, list[Any]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list[str] = []

    def walk(span: Any, depth: int) -> None:
        seconds = (span.end_time - span.start_time) / 1e9
        shown = []
        for key in attributes:
            if key in span.attributes:
                value = span.attributes[key]
                shown.append(f"{key.rsplit('.', 1)[-1]}={_short(value)}")
        extra = f"  [{', '.join(shown)}]" if shown else ""
        lines.append(f"{'    ' * depth}{span.name}  {seconds:.3f} s{extra}")
        for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s.start_time):
        walk(root, 0)
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


__all__ = ["SHOWN", "format_span_tree"]
