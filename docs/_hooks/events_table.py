"""mkdocs hook: renders the event reference from the pydantic models themselves.

A page containing ``<!-- realtalk:events-table -->`` gets a summary table of every event in
``realtalk.events.RealtimeEvent``, and ``<!-- realtalk:events-fields -->`` one section per
event with its fields, so the reference can never drift from the code.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

TABLE_MARK = "<!-- realtalk:events-table -->"
FIELDS_MARK = "<!-- realtalk:events-fields -->"


def _event_classes() -> list[type[BaseModel]]:
    from realtalk.events import RealtimeEvent

    union = typing.get_args(RealtimeEvent)[0]
    return [cls for cls in typing.get_args(union) if isinstance(cls, type)]


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _event_type(cls: type[BaseModel]) -> str:
    return str(cls.model_fields["type"].default)


def _summary(cls: type[BaseModel]) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").replace("|", "\\|")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`"
    if field.default is PydanticUndefined:
        return ""
    return f"`{json.dumps(field.default)}`"


def events_table() -> str:
    rows = ["| `type` | fields | what it means |", "| --- | --- | --- |"]
    for cls in _event_classes():
        fields = ", ".join(f"`{n}`" for n in cls.model_fields if n != "type") or "-"
        kind = _event_type(cls)
        rows.append(f"| [`{kind}`](#{kind.replace('_', '-')}) | {fields} | {_summary(cls)} |")
    return "\n".join(rows)


def events_fields() -> str:
    parts: list[str] = []
    for cls in _event_classes():
        kind = _event_type(cls)
        parts.append(f"### `{kind}` {{#{kind.replace('_', '-')}}}\n")
        parts.append(f"`realtalk.events.{cls.__name__}`: {inspect.getdoc(cls) or ''}\n")
        fields = [(n, f) for n, f in cls.model_fields.items() if n != "type"]
        if fields:
            parts.append("| field | type | default |")
            parts.append("| --- | --- | --- |")
            for name, field in fields:
                type_name = _type_name(field.annotation).replace("|", "\\|")
                parts.append(f"| `{name}` | `{type_name}` | {_default(field)} |")
            parts.append("")
        else:
            parts.append("No fields besides `type`.\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs entry point: fill the markers on any page that has them."""
    if TABLE_MARK in markdown:
        markdown = markdown.replace(TABLE_MARK, events_table())
    if FIELDS_MARK in markdown:
        markdown = markdown.replace(FIELDS_MARK, events_fields())
    return markdown
