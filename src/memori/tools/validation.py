"""Checks tool arguments against the tools' JSON schemas before anything runs.

A small interpreter of the schema subset ``spec.py`` uses (types, required, enum,
lengths, bounds, no unknown arguments), so no JSON-schema library is needed. ``null``
for an optional argument means "not given": models often send it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from memori.tools.errors import ToolError, UnknownToolError
from memori.tools.spec import PERSONA_ARGUMENT, TOOLS, ToolSpec

ENTITY_ARGUMENTS = frozenset({
    "entity", "entity_id", "entityid", "user", "user_id", "userid", "tenant", "tenant_id",
    "owner", "owner_id", "account", "account_id", "customer", "customer_id",
})
"""Argument names that try to pick whose memory a call reads: refused with a reason."""

_PERSONA_ARGUMENTS = frozenset({PERSONA_ARGUMENT, "process", "process_id", "agent"})

_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,),
}


def tool_spec(name: Any) -> ToolSpec:
    """The tool named ``name``; :class:`UnknownToolError` listing the tools otherwise."""
    spec = TOOLS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnknownToolError(f"unknown tool {name!r}; the memory tools are "
                               f"{', '.join(TOOLS)}")
    return spec


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Arguments as a dict: a mapping, a JSON object text (as models send it), or None."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, str | bytes):
        try:
            arguments = json.loads(arguments)
        except ValueError as e:
            raise ToolError(f"arguments are not valid JSON ({e})") from None
    if not isinstance(arguments, Mapping):
        raise ToolError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    return dict(arguments)


def check_arguments(
    spec: ToolSpec, arguments: Mapping[str, Any], personas: Sequence[str] = ()
) -> tuple[dict[str, Any], str | None]:
    """The arguments the schema allows (nulls dropped) and the persona picked, if any."""
    schema = spec.parameters(personas)
    properties: Mapping[str, Mapping[str, Any]] = schema["properties"]
    checked: dict[str, Any] = {}
    for key, value in arguments.items():
        if key not in properties:
            raise ToolError(_unknown(spec, key, properties))
        if value is None:
            continue
        checked[key] = _check_value(spec.name, key, value, properties[key])
    missing = [name for name in schema["required"] if name not in checked]
    if missing:
        raise ToolError(f"{spec.name}: missing required argument(s) {', '.join(missing)}")
    persona = checked.pop(PERSONA_ARGUMENT, None)
    return checked, persona


def _unknown(spec: ToolSpec, key: Any, properties: Mapping[str, Any]) -> str:
    name = str(key).lower()
    if name in ENTITY_ARGUMENTS:
        return (f"{spec.name}: argument {key!r} is not accepted: whose memory a tool reads "
                "is set by the host application, never by a tool call")
    if name in _PERSONA_ARGUMENTS:
        return (f"{spec.name}: argument {key!r} is not accepted: the persona is set by the "
                "host application (it may allow a list of personas)")
    return f"{spec.name}: unknown argument {key!r} (it takes {', '.join(properties) or 'none'})"


def _check_value(tool: str, key: str, value: Any, schema: Mapping[str, Any]) -> Any:
    where = f"{tool}: {key}"
    kind = schema["type"]
    if not _is_a(value, kind):
        raise ToolError(f"{where} must be {_article(kind)}, got {_json_type(value)}")
    if kind == "number" and not math.isfinite(value):
        raise ToolError(f"{where} must be a finite number")
    if kind == "object" and not all(isinstance(k, str) for k in value):
        raise ToolError(f"{where} keys must be strings")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolError(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if kind == "string":
        if schema.get("minLength", 0) and not value.strip():
            raise ToolError(f"{where} must not be empty")
        if len(value) > schema.get("maxLength", len(value)):
            raise ToolError(f"{where} must be at most {schema['maxLength']} characters")
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ToolError(f"{where} must be from {low} to {high}, got {value}")
    return value


def _is_a(value: Any, kind: str) -> bool:
    """Whether ``value`` has JSON type ``kind`` (a boolean is no number here)."""
    return isinstance(value, _TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string",
             dict: "object", list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)
