"""Tools through Agentflow's ``ToolNode``, driven by realtalk's dispatcher.

realtalk's runtime decides *when* a call runs (exactly-once ledger, timeouts, cancellation,
redelivery); `ToolNodeExecutor` decides *how*: it hands the call to the agent's
``ToolNode`` with the run's Agentflow config and state, so injected parameters (``state``,
``config``, ``tool_call_id``), MCP tools, Agentflow's tool callbacks and its publisher events
behave exactly as in text mode. `tool_specs()` advertises the ToolNode's own schemas
(injected parameters are already hidden by Agentflow).
"""

from __future__ import annotations

from typing import Any

from tenxgraph.core.state import Message as AgentflowMessage
from tenxgraph.core.state.message_block import ToolResultBlock as AfToolResult

from realtalk.runtime.executor import ToolInvocation
from realtalk.tools import ToolSpec


class ToolError(Exception):
    """A tool run through the ToolNode reported a failure."""


def _not_direct(**_: Any) -> Any:
    raise RuntimeError("this tool runs through Agentflow's ToolNode (ToolNodeExecutor)")


def tool_specs(schemas: list[dict[str, Any]]) -> list[ToolSpec]:
    """realtalk specs for the OpenAI-style schemas a ToolNode advertises."""
    specs = []
    for schema in schemas:
        function = schema.get("function", schema) if isinstance(schema, dict) else {}
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        parameters = dict(function.get("parameters") or {"type": "object", "properties": {}})
        parameters.setdefault("properties", {})
        specs.append(
            ToolSpec(
                name=name,
                description=str(function.get("description") or name),
                parameters=parameters,
                func=_not_direct,
                is_async=True,
            )
        )
    return specs


def tool_output(invoked: Any) -> Any:
    """The result inside what ``ToolNode.invoke`` returned; raises for a failed call."""
    if isinstance(invoked, AgentflowMessage):
        for block in invoked.content:
            if isinstance(block, AfToolResult):
                if block.is_error or block.status == "failed":
                    raise ToolError(str(block.output))
                return block.output
        return None
    return invoked


class ToolNodeExecutor:
    """Runs realtalk tool calls through one Agentflow ToolNode, for one session."""

    def __init__(
        self,
        tool_node: Any,
        *,
        config: dict[str, Any],
        state: Any,
        callback_manager: Any,
    ) -> None:
        self.tool_node = tool_node
        self.config = config
        self.state = state
        self.callback_manager = callback_manager

    async def execute(self, invocation: ToolInvocation) -> Any:
        invoked = await self.tool_node.invoke(
            invocation.name,
            dict(invocation.args),
            invocation.call_id,
            self.config,
            self.state,
            callback_manager=self.callback_manager,
        )
        return tool_output(invoked)


__all__ = ["ToolError", "ToolNodeExecutor", "tool_output", "tool_specs"]
