"""Memory as tools an agent calls: one spec for ``Memori.tools()`` and ``memori mcp``.

``tool_schemas()`` gives the OpenAI function-tool form of every tool (chat completions,
or the Responses API's flat form); ``call_tool`` checks a call's arguments and runs it
in the current attribution. No tool takes an entity: the host binds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memori.tools.errors import ToolError, UnknownToolError
from memori.tools.runner import call_tool
from memori.tools.spec import PERSONA_ARGUMENT, TOOLS, ToolSpec

__all__ = ["PERSONA_ARGUMENT", "TOOLS", "ToolError", "ToolSpec", "UnknownToolError",
           "call_tool", "tool_schemas"]

FORMATS = ("chat", "responses")


def tool_schemas(format: str = "chat", *, personas: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every memory tool as an OpenAI function tool: ``format="chat"`` for chat
    completions (``{"type": "function", "function": {...}}``), ``"responses"`` for the
    Responses API (flat: ``{"type": "function", "name": ...}``)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    schemas: list[dict[str, Any]] = []
    for spec in TOOLS.values():
        function: dict[str, Any] = {"name": spec.name, "description": spec.description,
                                    "parameters": spec.parameters(personas)}
        if format == "chat":
            schemas.append({"type": "function", "function": function})
        else:
            schemas.append({"type": "function", **function, "strict": False})
    return schemas
