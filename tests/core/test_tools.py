"""Tool specs: JSON schemas from type hints and docstrings, validation, sync and async calls."""

from __future__ import annotations

import asyncio
import enum
import functools
import threading
from typing import Any, Literal, Optional

import pytest
from pydantic import BaseModel

from realtalk import tool
from realtalk.tools import ToolSpec, to_tool_spec, tool_specs


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(BaseModel):
    """A place on Earth."""

    city: str
    country: str = "FR"


@tool
def forecast(
    city: str,
    days: int,
    threshold: float,
    metric: bool,
    unit: Unit,
    tags: list[str],
    note: Optional[str] = None,  # noqa: UP045 - Optional spelled the old way on purpose
    place: Place | None = None,
    mode: Literal["brief", "full"] = "brief",
) -> dict[str, Any]:
    """Forecast the weather
    for a city.

    Longer explanation that is not part of the description.

    Args:
        city: The city name.
        days (int): How many days ahead.
        threshold: Alert threshold, a description that
            continues on the next line.
        unit: Temperature unit.

    Returns:
        The forecast.
    """
    return {"city": city, "days": days, "unit": unit.value, "place": place}


def properties() -> dict[str, Any]:
    return dict(to_tool_spec(forecast).parameters["properties"])


def test_description_is_the_docstring_summary() -> None:
    spec = to_tool_spec(forecast)
    assert spec.name == "forecast"
    assert spec.description == "Forecast the weather for a city."


def test_scalar_parameters() -> None:
    props = properties()
    assert props["city"] == {"type": "string", "description": "The city name."}
    assert props["days"] == {"type": "integer", "description": "How many days ahead."}
    assert props["threshold"] == {
        "type": "number",
        "description": "Alert threshold, a description that continues on the next line.",
    }
    assert props["metric"] == {"type": "boolean"}


def test_enum_list_optional_literal_and_model_parameters() -> None:
    schema = to_tool_spec(forecast).parameters
    props = schema["properties"]
    assert props["unit"]["description"] == "Temperature unit."
    assert schema["$defs"]["Unit"]["enum"] == ["celsius", "fahrenheit"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert props["place"]["anyOf"][0] == {"$ref": "#/$defs/Place"}
    assert schema["$defs"]["Place"]["required"] == ["city"]
    assert props["mode"] == {"type": "string", "enum": ["brief", "full"], "default": "brief"}
    assert schema["required"] == ["city", "days", "threshold", "metric", "unit", "tags"]
    assert schema["additionalProperties"] is False
    assert schema["type"] == "object" and "title" not in schema


def test_arguments_are_coerced_into_the_declared_types() -> None:
    spec = to_tool_spec(forecast)
    args = spec.validate_args(
        {
            "city": "Paris",
            "days": "3",
            "threshold": 1,
            "metric": True,
            "unit": "celsius",
            "tags": ["a"],
            "place": {"city": "Lyon"},
        }
    )
    assert args["days"] == 3 and args["threshold"] == 1.0
    assert args["unit"] is Unit.CELSIUS
    assert args["place"] == Place(city="Lyon")
    assert args["note"] is None and args["mode"] == "brief"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"city": 3}, "city: Input should be a valid string"),
        ({}, "days: Field required"),
        ({"unit": "kelvin"}, "unit: Input should be 'celsius' or 'fahrenheit'"),
        ({"tags": "not a list"}, "tags: Input should be a valid list"),
        ({"place": {"country": "FR"}}, "place.city: Field required"),
        ({"bogus": 1}, "bogus: unexpected argument"),
    ],
)
def test_invalid_arguments_are_a_clear_value_error(args: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError) as info:
        to_tool_spec(forecast).validate_args(args)
    message = str(info.value)
    assert message.startswith("invalid arguments for tool 'forecast': ")
    assert expected in message
    assert "errors.pydantic.dev" not in message


async def test_sync_tools_run_in_a_worker_thread() -> None:
    threads: list[int] = []

    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        threads.append(threading.get_ident())
        return a + b

    spec = to_tool_spec(add)
    assert not spec.is_async
    assert await spec.acall({"a": "2", "b": 5}) == 7
    assert threads and threads[0] != threading.get_ident()


async def test_async_tools_are_awaited() -> None:
    @tool(name="lookup", description="Look something up.", timeout=2.5)
    async def slow_lookup(query: str) -> str:
        await asyncio.sleep(0)
        return query.upper()

    spec = to_tool_spec(slow_lookup)
    assert (spec.name, spec.description, spec.timeout, spec.is_async) == (
        "lookup",
        "Look something up.",
        2.5,
        True,
    )
    assert await spec.acall({"query": "abc"}) == "ABC"
    assert slow_lookup.__name__ == "slow_lookup"  # the decorated function is unchanged
    with pytest.raises(ValueError, match="query: Field required"):
        await spec.acall({})


async def test_callable_objects_and_partials_are_tools() -> None:
    class Counter:
        """Count words."""

        async def __call__(self, text: str) -> int:
            """Args:
            text: Text to count.
            """
            return len(text.split())

    spec = to_tool_spec(Counter())
    assert (spec.name, spec.description, spec.is_async) == ("Counter", "Count words.", True)
    assert spec.parameters["properties"]["text"]["description"] == "Text to count."
    assert await spec.acall({"text": "one two"}) == 2

    def greet(greeting: str, name: str) -> str:
        """Greet someone.

        Args:
            name: Who to greet.
        """
        return f"{greeting}, {name}"

    partial = to_tool_spec(functools.partial(greet, "Hello"))
    assert partial.name == "greet" and partial.description == "Greet someone."
    assert list(partial.parameters["properties"]) == ["name"]
    assert await partial.acall({"name": "Ada"}) == "Hello, Ada"


def test_plain_callables_without_hints_accept_anything() -> None:
    def echo(value, times=2):  # type: ignore[no-untyped-def]
        return value * times

    spec = to_tool_spec(echo)
    assert spec.parameters["properties"] == {"value": {}, "times": {"default": 2}}
    assert spec.description == "echo"  # no docstring: the name


def test_tool_specs_reject_duplicates_and_bad_names() -> None:
    def a() -> None:
        """A."""

    spec = to_tool_spec(a)
    assert isinstance(spec, ToolSpec) and to_tool_spec(spec) is spec
    with pytest.raises(ValueError, match="two tools are named 'a'"):
        tool_specs([a, spec])
    with pytest.raises(ValueError, match="tool name 'has space' is not valid"):
        tool(name="has space")(a)
    with pytest.raises(TypeError, match="must be callable"):
        to_tool_spec(42)  # type: ignore[arg-type]
