"""The system instruction a session connects with.

Live providers take one system instruction per connection and cannot change it mid-
session, so the agent's pieces (the realtime config's ``system_instruction``, the
``system_prompt``, ``skills`` and ``memory``) are flattened into a single string at
connect time. ``{field}`` placeholders in the prompt parts are filled from the session
state; a placeholder with no matching field is an error naming the field, because a
prompt that silently says "{user_name}" to the model is a bug nobody hears.
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PromptPart = str | Mapping[str, Any]
SystemPrompt = str | Sequence[PromptPart]
"""A string, or a list of strings / ``{"role": "system", "content": ...}`` dicts."""


class PromptError(ValueError):
    """The system prompt cannot be built (missing placeholder field, bad shape)."""


class _StateView(Mapping[str, Any]):
    """Read access to state given as a dict, a pydantic model or any object."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def __getitem__(self, key: str) -> Any:
        state = self._state
        if state is None:
            raise KeyError(key)
        if isinstance(state, Mapping):
            return state[key]
        try:
            return getattr(state, key)
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Any:
        state = self._state
        if state is None:
            return iter(())
        if isinstance(state, Mapping):
            return iter(state)
        fields = getattr(type(state), "model_fields", None)
        if fields is not None:
            return iter(fields)
        return iter(getattr(state, "__dict__", {}))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def fill_placeholders(template: str, state: Any, *, where: str = "system prompt") -> str:
    """``template`` with ``{field}`` placeholders filled from ``state``.

    ``{{`` and ``}}`` stand for literal braces. A missing field raises
    `PromptError` naming it and the fields the state has.
    """
    view = _StateView(state)
    try:
        return string.Formatter().vformat(template, (), view)
    except KeyError as exc:
        field = exc.args[0] if exc.args else "?"
        known = ", ".join(sorted(map(str, view))) or "none"
        raise PromptError(
            f"the {where} uses the placeholder {{{field}}} but the session state has no "
            f"field {field!r} (state fields: {known}); pass it in "
            f"arealtime(..., state={{{field!r}: ...}}) or write {{{{{field}}}}} for "
            "literal braces"
        ) from None
    except (IndexError, ValueError, AttributeError) as exc:
        raise PromptError(f"the {where} is not a valid template: {exc}") from None


def _prompt_texts(system_prompt: SystemPrompt | None) -> list[str]:
    if system_prompt is None:
        return []
    if isinstance(system_prompt, str):
        return [system_prompt]
    texts: list[str] = []
    for i, part in enumerate(system_prompt):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping):
            role = part.get("role", "system")
            content = part.get("content")
            if role != "system":
                raise PromptError(
                    f"system_prompt[{i}] has role {role!r}: only 'system' parts belong in "
                    "the system prompt"
                )
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, Sequence):
                texts.extend(
                    c["text"] if isinstance(c, Mapping) else str(c)
                    for c in content
                    if not isinstance(c, Mapping) or "text" in c
                )
            else:
                raise PromptError(f"system_prompt[{i}] needs a string 'content'")
        else:
            raise PromptError(
                f"system_prompt[{i}] must be a string or a {{'role': 'system', 'content': "
                f"...}} dict, got {type(part).__name__}"
            )
    return texts


def _field(item: Any, *names: str) -> str | None:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def render_skills(skills: Any) -> str:
    """Skills as a prompt section.

    Accepts a string, a list of strings, or a list of skills given as dicts or objects
    with ``name``, ``description`` and ``instructions`` (or ``content``); an object with a
    ``skills`` attribute (a skill config) is unwrapped.
    """
    if skills is None:
        return ""
    if isinstance(skills, str):
        return skills.strip()
    inner = getattr(skills, "skills", None)
    if inner is not None and not isinstance(skills, Mapping):
        skills = inner
    if isinstance(skills, Mapping):
        skills = [skills]
    if not isinstance(skills, Iterable):
        raise PromptError(f"skills must be a string or a list of skills, got {skills!r}")
    lines: list[str] = []
    for item in skills:
        if isinstance(item, str):
            lines.append(f"- {item.strip()}")
            continue
        name = _field(item, "name")
        description = _field(item, "description")
        body = _field(item, "instructions", "content", "prompt")
        if not (name or description or body):
            raise PromptError(f"a skill needs a name, description or instructions: {item!r}")
        head = f"- {name}" if name else "-"
        if description:
            head += f": {description}" if name else f" {description}"
        lines.append(head)
        if body:
            lines.extend(f"  {line}" for line in body.splitlines())
    return "\n".join(lines)


def render_memory(memory: Any, state: Any, store: Any = None) -> str:
    """Memory as a prompt section.

    Accepts a string, a list of strings, a mapping (rendered ``key: value``), or a
    callable taking the state and returning one of those (evaluated at each connect).
    A callable with a ``store`` parameter also receives the app's store.
    """
    if memory is None:
        return ""
    if callable(memory) and not isinstance(memory, Mapping | str):
        memory = memory(state, store=store) if _takes_store(memory) else memory(state)
        if callable(memory):
            raise PromptError("a memory callable must return text, not another callable")
        return render_memory(memory, state)
    if isinstance(memory, str):
        return memory.strip()
    if isinstance(memory, Mapping):
        return "\n".join(f"- {key}: {value}" for key, value in memory.items())
    if isinstance(memory, Iterable):
        return "\n".join(f"- {str(item).strip()}" for item in memory)
    raise PromptError(f"memory must be text, a list, a mapping or a callable, got {memory!r}")


def _takes_store(func: Any) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "store" or p.kind is p.VAR_KEYWORD for p in params)


def check_prompt(system_prompt: SystemPrompt | None, skills: Any = None) -> None:
    """Check the shape and template syntax of a prompt (no state needed); raises PromptError."""
    for i, text in enumerate(_prompt_texts(system_prompt)):
        try:
            list(string.Formatter().parse(text))
        except ValueError as exc:
            raise PromptError(f"system prompt (part {i}) is not a valid template: {exc}") from None
    render_skills(skills)


def build_system_instruction(
    *,
    system_instruction: str | None = None,
    system_prompt: SystemPrompt | None = None,
    skills: Any = None,
    memory: Any = None,
    state: Any = None,
    store: Any = None,
) -> str | None:
    """One system instruction from all parts, placeholders filled; None if all are empty.

    Order: the realtime config's instruction, the system prompt parts, then a
    ``Skills`` section and a ``Memory`` section. Placeholders are filled in the
    instruction and prompt parts only: skills and memory are data and are used verbatim.
    """
    sections: list[str] = []
    if system_instruction:
        sections.append(
            fill_placeholders(system_instruction, state, where="system_instruction").strip()
        )
    for i, text in enumerate(_prompt_texts(system_prompt)):
        filled = fill_placeholders(text, state, where=f"system prompt (part {i})").strip()
        if filled:
            sections.append(filled)
    skill_text = render_skills(skills)
    if skill_text:
        sections.append("Skills you can use:\n" + skill_text)
    memory_text = render_memory(memory, state, store)
    if memory_text:
        sections.append("What you remember:\n" + memory_text)
    joined = "\n\n".join(s for s in sections if s)
    return joined or None


__all__ = [
    "PromptError",
    "SystemPrompt",
    "build_system_instruction",
    "check_prompt",
    "fill_placeholders",
    "render_memory",
    "render_skills",
]
