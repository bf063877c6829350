"""The fake model's unscripted answer: deterministic text derived from the request.

Plain requests get `echo: <last user message>`; structured-output requests (JSON schema or
JSON mode) get a JSON document that satisfies the schema, with every string set to the last
user message, so parsing clients (`chat.completions.parse`, `responses.parse`) succeed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from memori.testing.openai_records import RecordedRequest

__all__ = ["default_text", "example_for_schema"]

_MAX_DEPTH = 8


def default_text(request: RecordedRequest) -> str:
    """The deterministic reply content for a request that nothing scripted."""
    echo = request.last_user_text
    response_format = _requested_format(request.json)
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = response_format.get("schema")
        if schema is None:  # chat nests it under `json_schema`
            nested = response_format.get("json_schema")
            schema = nested.get("schema") if isinstance(nested, dict) else None
        root = schema if isinstance(schema, dict) else {}
        return json.dumps(example_for_schema(root, echo), separators=(",", ":"))
    if kind == "json_object":
        return json.dumps({"echo": echo})
    return f"echo: {echo}"


def _requested_format(body: Mapping[str, Any]) -> dict[str, Any]:
    """Chat's `response_format`, or Responses' `text.format`; {} when plain text."""
    chosen = body.get("response_format")
    if chosen is None:
        text = body.get("text")
        chosen = text.get("format") if isinstance(text, dict) else None
    return chosen if isinstance(chosen, dict) else {}


def example_for_schema(schema: Mapping[str, Any], text: str) -> Any:
    """A value valid under `schema` (the subset structured outputs use), strings set to `text`."""
    return _example(schema, schema, text, 0)


def _example(schema: Mapping[str, Any], root: Mapping[str, Any], text: str, depth: int) -> Any:
    ref = schema.get("$ref")
    if isinstance(ref, str) and depth < _MAX_DEPTH * 2:
        return _example(_resolve(ref, root), root, text, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            non_null = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
            return _example((non_null or options)[0], root, text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        if depth >= _MAX_DEPTH:
            return {}
        return {name: _example(sub, root, text, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        if depth >= _MAX_DEPTH or not isinstance(items, dict):
            return []
        count = max(1, int(schema.get("minItems", 1)))
        return [_example(items, root, text, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return text


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local JSON pointer such as `#/$defs/Fact`; {} when it cannot be followed."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in (p for p in ref[1:].split("/") if p):
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node if isinstance(node, Mapping) else {}
