"""Tool items of a Responses output (hosted tools and tools the caller runs) as tool drafts.

The Responses API runs some tools itself (web search, file search, MCP, code
interpreter, image generation) and returns each call, often with its result, as
an output item; others it asks the caller to run (local shell, shell, computer,
apply patch), whose results come back later as ``*_output`` input items. Each such
item becomes one ``tool`` draft whose text says what was done and what came back,
with the item type (``tool``), its ids and status in the metadata. Binary results
(images, screenshots) are named, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from memori.llm.messages import Draft, as_mapping, content_text

_Describe = Callable[[Mapping[str, Any]], str]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _web_search(item: Mapping[str, Any]) -> str:
    action = as_mapping(item.get("action") or {})
    kind = action.get("type")
    if kind == "open_page":
        return f"web search: opened {_text(action.get('url'))}".rstrip()
    if kind == "find_in_page":
        return f"web search: looked for {_text(action.get('pattern'))!r} in " \
               f"{_text(action.get('url'))}"
    queries = [q for q in (action.get("queries") or ()) if isinstance(q, str)]
    query = _text(action.get("query")) or "; ".join(queries)
    urls = [_text(as_mapping(s).get("url")) for s in action.get("sources") or ()]
    sources = ", ".join(u for u in urls if u)
    return _lines(f"web search: {query}".rstrip(), f"sources: {sources}" if sources else "")


def _file_search(item: Mapping[str, Any]) -> str:
    queries = "; ".join(q for q in item.get("queries") or () if isinstance(q, str))
    results = []
    for result in item.get("results") or ():
        r = as_mapping(result)
        name = _text(r.get("filename")) or _text(r.get("file_id"))
        results.append(f"- {name}: {_text(r.get('text'))}".rstrip(": "))
    return _lines(f"file search: {queries}".rstrip(), *results)


def _mcp_call(item: Mapping[str, Any]) -> str:
    call = f"mcp {_text(item.get('server_label'))}.{_text(item.get('name'))}" \
           f"({_text(item.get('arguments'))})"
    error = item.get("error")
    if error:
        failure = as_mapping(error)
        message = error if isinstance(error, str) else (
            _text(failure.get("message")) or content_text(failure.get("content")))
        return _lines(call, f"error: {message or 'failed'}")
    return _lines(call, _text(item.get("output")))


def _mcp_list_tools(item: Mapping[str, Any]) -> str:
    names = [_text(as_mapping(t).get("name")) for t in item.get("tools") or ()]
    return f"mcp {_text(item.get('server_label'))} tools: {', '.join(n for n in names if n)}"


def _mcp_approval_request(item: Mapping[str, Any]) -> str:
    return f"mcp approval requested: {_text(item.get('server_label'))}." \
           f"{_text(item.get('name'))}({_text(item.get('arguments'))})"


def _code_interpreter(item: Mapping[str, Any]) -> str:
    outputs = []
    for output in item.get("outputs") or ():
        o = as_mapping(output)
        if o.get("type") == "logs":
            outputs.append(_text(o.get("logs")))
        elif o.get("type") == "image":
            outputs.append("[image]")
    return _lines("code interpreter:", _text(item.get("code")), *outputs)


def _image_generation(item: Mapping[str, Any]) -> str:
    prompt = _text(item.get("revised_prompt"))
    return _lines("image generation", prompt and f"prompt: {prompt}")


def _local_shell(item: Mapping[str, Any]) -> str:
    command = as_mapping(item.get("action") or {}).get("command") or ()
    return f"local shell: {' '.join(c for c in command if isinstance(c, str))}"


def _shell(item: Mapping[str, Any]) -> str:
    commands = as_mapping(item.get("action") or {}).get("commands") or ()
    return _lines("shell:", *(c for c in commands if isinstance(c, str)))


def _shell_output(item: Mapping[str, Any]) -> str:
    output = item.get("output")
    if isinstance(output, str):
        return output
    parts = []
    for entry in output or ():
        e = as_mapping(entry)
        parts += [_text(e.get("stdout")), _text(e.get("stderr"))]
    return _lines(*parts)


def _computer(item: Mapping[str, Any]) -> str:
    actions = list(item.get("actions") or ()) or [item.get("action") or {}]
    described = []
    for action in actions:
        a = as_mapping(action)
        details = ", ".join(f"{k}={v}" for k, v in a.items() if k != "type")
        described.append(f"{_text(a.get('type'))}({details})")
    return f"computer: {'; '.join(described)}"


def _apply_patch(item: Mapping[str, Any]) -> str:
    operation = as_mapping(item.get("operation") or {})
    return f"apply patch: {_text(operation.get('type'))} {_text(operation.get('path'))}".rstrip()


DESCRIBE: Mapping[str, _Describe] = {
    "web_search_call": _web_search,
    "file_search_call": _file_search,
    "mcp_call": _mcp_call,
    "mcp_list_tools": _mcp_list_tools,
    "mcp_approval_request": _mcp_approval_request,
    "code_interpreter_call": _code_interpreter,
    "image_generation_call": _image_generation,
    "local_shell_call": _local_shell,
    "shell_call": _shell,
    "computer_call": _computer,
    "apply_patch_call": _apply_patch,
    "local_shell_call_output": _shell_output,
    "shell_call_output": _shell_output,
    "computer_call_output": lambda item: "computer: screenshot",
    "apply_patch_call_output": lambda item: _text(item.get("output")),
}
"""The tool item types recorded, each with how its text is written."""

CALLER_OUTPUTS = frozenset({
    "local_shell_call_output", "shell_call_output", "computer_call_output",
    "apply_patch_call_output",
})
"""Results of tools the caller ran: recorded from the ``input`` that carries them."""


def tool_item_draft(item: Mapping[str, Any]) -> Draft | None:
    """The ``tool`` draft of a tool item of a Responses output or input; None for other items."""
    kind = item.get("type")
    describe = DESCRIBE.get(kind) if isinstance(kind, str) else None
    if describe is None:
        return None
    meta: dict[str, Any] = {"tool": kind}
    call_id = item.get("call_id") or item.get("id")
    if isinstance(call_id, str):
        meta["tool_call_id"] = call_id
    if isinstance(item.get("status"), str):
        meta["status"] = item["status"]
    return Draft("tool", describe(item), meta)
