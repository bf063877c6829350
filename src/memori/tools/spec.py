"""The memory tools an agent may call: names, descriptions and JSON schemas, in one place.

The MCP server (``memori mcp``) and ``Memori.tools()`` / ``call_tool`` both read them.
No schema offers an entity: the entity is bound by the caller (the attribution, or the
server's ``--entity``), never chosen by the model. A persona argument exists only when
the host allows a list of personas (``--allow-persona``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

PERSONA_ARGUMENT = "persona"
"""The argument that picks one of the allowed personas (present only when some are)."""

TOOL_LIST_LIMIT = 200
"""Largest page ``list_memories`` returns to a model (the Python API allows up to 1000)."""

_MEMORY_ID = {"type": "string", "minLength": 1, "maxLength": 255,
              "description": "The id of a memory, as returned by the other tools."}
_KIND = {"type": "string", "minLength": 1, "maxLength": 64,
         "description": "What the memory records: fact, preference, goal, event or note."}
_METADATA = {"type": "object", "description": "JSON key-value data stored with the memory."}
_TIME = {"type": "string", "minLength": 1, "maxLength": 64,
         "description": "ISO 8601 date or date-time (UTC unless it names an offset)."}


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it does (for the model) and its arguments' JSON schema."""

    name: str
    description: str
    properties: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ()

    def parameters(self, personas: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON schema of the arguments (an object; unknown arguments are refused)."""
        properties = {name: dict(schema) for name, schema in self.properties.items()}
        if personas:
            properties[PERSONA_ARGUMENT] = {
                "type": "string", "enum": list(personas),
                "description": "The agent persona to act as (one of those allowed).",
            }
        return {"type": "object", "properties": properties, "required": list(self.required),
                "additionalProperties": False}


_SPECS = (
    ToolSpec(
        "remember",
        "Store a long-term memory about the user (a fact, preference, goal, event or "
        "note) so that later conversations can recall it. Returns the stored memory.",
        {
            "content": {"type": "string", "minLength": 1,
                        "description": "The memory, as one self-contained sentence."},
            "kind": {**_KIND, "default": "note"},
            "shared": {"type": "boolean", "default": False,
                       "description": "Visible to every persona of the user, not only this one."},
            "metadata": _METADATA,
        },
        ("content",),
    ),
    ToolSpec(
        "recall",
        "Search the user's long-term memories for what is relevant to a query, best first.",
        {
            "query": {"type": "string", "minLength": 1, "description": "What to look for."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10,
                      "description": "How many memories to return at most."},
        },
        ("query",),
    ),
    ToolSpec(
        "list_memories",
        "List the user's long-term memories, newest first, optionally filtered; page "
        "through them with limit and offset.",
        {
            "kind": _KIND,
            "contains": {"type": "string", "minLength": 1, "maxLength": 1000,
                         "description": "Only memories whose text contains this (any case)."},
            "metadata": {"type": "object",
                         "description": "Only memories whose metadata holds these key-values."},
            "since": {**_TIME, "description": "Only memories created at or after this "
                                              "ISO 8601 date or date-time."},
            "until": {**_TIME, "description": "Only memories created at or before this "
                                              "ISO 8601 date or date-time."},
            "include_superseded": {"type": "boolean", "default": False,
                                   "description": "Also list memories replaced by newer ones."},
            "limit": {"type": "integer", "minimum": 1, "maximum": TOOL_LIST_LIMIT,
                      "default": 50, "description": "How many memories to return at most."},
            "offset": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0,
                       "description": "How many memories to skip."},
        },
    ),
    ToolSpec(
        "update_memory",
        "Correct a memory: change its text, kind, metadata, sharing or pin. Returns the "
        "memory.",
        {
            "memory_id": _MEMORY_ID,
            "content": {"type": "string", "minLength": 1, "description": "The new text."},
            "kind": _KIND,
            "metadata": {**_METADATA, "description": "The new metadata (replaces the old)."},
            "shared": {"type": "boolean",
                       "description": "Visible to every persona of the user, or only this one."},
            "pinned": {"type": "boolean",
                       "description": "Pinned: shown with every reply of this user, whatever "
                                      "the topic (for standing rules and key facts)."},
        },
        ("memory_id",),
    ),
    ToolSpec(
        "delete_memory",
        "Delete one memory for good (when the user asks to forget it or it is wrong).",
        {"memory_id": _MEMORY_ID},
        ("memory_id",),
    ),
    ToolSpec(
        "forget_session",
        "Erase everything stored during one conversation session (by default the current "
        "one): its messages and the memories made in it. Returns how many items went.",
        {"session_id": {"type": "string", "minLength": 1, "maxLength": 255,
                        "description": "The session to erase (default: the current one)."}},
    ),
)

TOOLS: Mapping[str, ToolSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every memory tool by name, in the order they are offered."""
