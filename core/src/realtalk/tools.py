"""Tools: plain functions (sync or async) described to the model by a JSON schema.

The schema is built from type hints with pydantic, and descriptions from the docstring
(first paragraph for the tool, ``Args:`` entries for parameters), so the function a user
writes is the single source of truth.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, overload

from pydantic import ConfigDict, Field, ValidationError, create_model

from .tool_threads import CancelToken, ToolThreadPool, default_pool

_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    if not doc:
        return "", {}
    doc = inspect.cleandoc(doc)
    summary = doc.split("\n\n", 1)[0].strip()
    if re.match(r"^(Args|Arguments|Parameters|Returns?):", summary):
        summary = ""
    params: dict[str, str] = {}
    section = None
    current: str | None = None
    arg_indent: int | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if re.match(r"^(Args|Arguments|Parameters):\s*$", stripped):
            section, current, arg_indent = "args", None, None
            continue
        if re.match(r"^(Returns?|Raises|Yields|Examples?|Notes?):\s*$", stripped):
            section, current = None, None
            continue
        if section == "args":
            m = _ARG_LINE.match(line)
            indent = len(line) - len(line.lstrip())
            if m and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = m.group(1)
                params[current] = m.group(2).strip()
            elif (
                current is not None and stripped and arg_indent is not None and indent > arg_indent
            ):
                params[current] += " " + stripped  # a description continued on the next line
    return " ".join(summary.split()), params


def _describe_errors(exc: ValidationError) -> str:
    """pydantic's errors in one line each a model (or a person) can act on."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unexpected argument"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _target(func: Callable[..., Any]) -> Any:
    """What to read the name, docstring and type hints from (partials, callable objects)."""
    while isinstance(func, functools.partial):
        func = func.func
    if not inspect.isroutine(func) and not inspect.isclass(func) and callable(func):
        return type(func).__call__
    return func


@dataclass(frozen=True)
class ToolSpec:
    """A callable the model may invoke, with its JSON schema.

    ``timeout`` (seconds) bounds one execution; ``None`` uses the runtime's default.
    ``cancel_param`` names the parameter annotated `CancelToken`
    (not in the schema: the runtime passes a token set when the call is timed out or
    cancelled).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any]
    is_async: bool
    timeout: float | None = None
    _args_model: Any = field(default=None, repr=False, compare=False)
    cancel_param: str | None = None

    def validate_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Coerce and check model-provided args; raises ValueError with a readable message."""
        if self._args_model is None:
            return dict(args)
        try:
            model = self._args_model.model_validate(args)
        except ValidationError as exc:
            raise ValueError(
                f"invalid arguments for tool {self.name!r}: {_describe_errors(exc)}"
            ) from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    async def acall(
        self,
        args: dict[str, Any],
        *,
        call_id: str | None = None,
        pool: ToolThreadPool | None = None,
    ) -> Any:
        """Run the tool: async tools are awaited, sync tools run in a thread of ``pool``
        (default: the process-wide `default_pool()`).

        ``call_id`` names the call in the reports about a sync call left running after
        it was timed out or cancelled.
        """
        kwargs = self.validate_args(args)
        token = None
        if self.cancel_param is not None:
            token = kwargs[self.cancel_param] = CancelToken()
        if self.is_async:
            try:
                return await self.func(**kwargs)
            except asyncio.CancelledError:
                if token is not None:
                    token.cancel()
                raise
        runner = pool if pool is not None else default_pool()
        return await runner.run(self.func, kwargs, tool=self.name, call_id=call_id, token=token)


def _build_spec(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> ToolSpec:
    if not callable(func):
        raise TypeError(f"a tool must be callable, got {func!r}")
    target = _target(func)
    summary, param_docs = _parse_docstring(inspect.getdoc(target))
    if target is not func and not isinstance(func, functools.partial):
        # A callable object: its class docstring describes the tool better than __call__'s.
        class_summary, class_params = _parse_docstring(inspect.getdoc(func))
        summary = class_summary or summary
        param_docs = {**class_params, **param_docs}
    signature = inspect.signature(func)
    try:
        hints = inspect.get_annotations(target, eval_str=True)
    except Exception:  # unresolved forward refs: fall back to raw annotations
        hints = dict(getattr(target, "__annotations__", {}))
    fields: dict[str, Any] = {}
    cancel_param = None
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if pname in ("self", "cls"):
            continue
        annotation = hints.get(pname, Any)
        if annotation is CancelToken:  # the runtime's, never the model's
            cancel_param = pname
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, Field(default, description=param_docs.get(pname)))
    tool_name = name or getattr(func, "__name__", None)
    if tool_name is None:
        inner = func
        while isinstance(inner, functools.partial):
            inner = inner.func
        tool_name = getattr(inner, "__name__", None) or type(inner).__name__
    if not tool_name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", tool_name):
        raise ValueError(
            f"tool name {tool_name!r} is not valid: use letters, digits, '_', '.', '-' "
            "(at most 64 characters, starting with a letter or '_')"
        )
    args_model = create_model(  # type: ignore[call-overload]
        f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields
    )
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    is_async = inspect.iscoroutinefunction(func) or (
        not inspect.isroutine(func) and inspect.iscoroutinefunction(type(func).__call__)
    )
    return ToolSpec(
        name=tool_name,
        description=(description or summary or tool_name).strip(),
        parameters=schema,
        func=func,
        is_async=is_async,
        timeout=timeout,
        _args_model=args_model,
        cancel_param=cancel_param,
    )


@overload
def tool(func: Callable[..., Any], /) -> Callable[..., Any]: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Any:
    """Mark a function as a tool (``@tool`` or ``@tool(name=..., timeout=...)``).

    The function stays callable as before; its spec is attached as ``__realtalk_tool__``.
    Plain, undecorated callables are accepted as tools too.
    """

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__realtalk_tool__ = _build_spec(  # type: ignore[attr-defined]
            f, name=name, description=description, timeout=timeout
        )
        return f

    return wrap(func) if func is not None else wrap


def to_tool_spec(obj: Callable[..., Any] | ToolSpec) -> ToolSpec:
    """The spec of a decorated function, a plain callable, or a spec itself."""
    if isinstance(obj, ToolSpec):
        return obj
    spec = getattr(obj, "__realtalk_tool__", None)
    if isinstance(spec, ToolSpec):
        return spec
    return _build_spec(obj)


def tool_specs(tools: Iterable[Callable[..., Any] | ToolSpec]) -> list[ToolSpec]:
    """Specs for a list of tools; duplicate names are an error naming the name."""
    specs: list[ToolSpec] = []
    seen: set[str] = set()
    for obj in tools:
        spec = to_tool_spec(obj)
        if spec.name in seen:
            raise ValueError(f"two tools are named {spec.name!r}: tool names must be unique")
        seen.add(spec.name)
        specs.append(spec)
    return specs


__all__ = ["ToolSpec", "to_tool_spec", "tool", "tool_specs"]
