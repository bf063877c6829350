"""Tool output items of the Responses API in their wire format, for scripted replies.

The real API returns the calls of the tools it runs itself (web search, file search,
MCP, code interpreter, image generation) as output items before the model's message,
and the calls of tools the caller runs (local shell, shell, computer, apply patch) as
items the caller answers with ``*_output`` input items. These builders make such
items; put them in ``Reply(output_items=...)``:

    server.enqueue(Reply(text="It is sunny.", output_items=[web_search_call("oslo weather")]))

Streamed, each item is sent as ``response.output_item.added``, the progress events
its type has (``response.web_search_call.searching`` ...), then
``response.output_item.done``. Ids left out are filled in by the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "code_interpreter_call",
    "computer_call",
    "file_search_call",
    "hosted_item_events",
    "local_shell_call",
    "mcp_call",
    "mcp_list_tools",
    "shell_call",
    "web_search_call",
]

Item = dict[str, Any]

_PROGRESS: Mapping[str, tuple[str, ...]] = {
    "web_search_call": ("in_progress", "searching", "completed"),
    "file_search_call": ("in_progress", "searching", "completed"),
    "code_interpreter_call": ("in_progress", "interpreting", "completed"),
    "image_generation_call": ("in_progress", "generating", "completed"),
    "mcp_call": ("in_progress", "completed"),
    "mcp_list_tools": ("in_progress", "completed"),
}
"""The ``response.<type>.<stage>`` events each hosted item type streams."""

_ID_PREFIX: Mapping[str, str] = {
    "web_search_call": "ws", "file_search_call": "fs", "code_interpreter_call": "ci",
    "image_generation_call": "ig", "mcp_call": "mcp", "mcp_list_tools": "mcpl",
    "local_shell_call": "lsh", "shell_call": "sh", "computer_call": "cu",
}


def web_search_call(query: str, *, sources: Sequence[str] = (), id: str | None = None) -> Item:
    """A web search the API ran (``action.type == "search"``), with the URLs it read."""
    action: Item = {"type": "search", "query": query, "queries": [query]}
    if sources:
        action["sources"] = [{"type": "url", "url": url} for url in sources]
    return _item("web_search_call", id, action=action, status="completed")


def file_search_call(
    queries: Sequence[str], *, results: Sequence[tuple[str, str]] = (), id: str | None = None
) -> Item:
    """A file search over vector stores; ``results`` as ``(filename, text)`` pairs."""
    found = [{"file_id": f"file_memori{i}", "filename": name, "score": 0.9, "text": text,
              "attributes": {}} for i, (name, text) in enumerate(results)]
    return _item("file_search_call", id, queries=list(queries), results=found or None,
                 status="completed")


def mcp_call(
    server_label: str, name: str, arguments: str, *, output: str | None = None,
    error: str | None = None, id: str | None = None,
) -> Item:
    """A call of a tool on a remote MCP server, with its output (or error)."""
    failure = None if error is None else {"type": "http_error", "code": 500, "message": error}
    return _item("mcp_call", id, server_label=server_label, name=name, arguments=arguments,
                 output=output, error=failure, status="failed" if error else "completed")


def mcp_list_tools(server_label: str, names: Sequence[str], *, id: str | None = None) -> Item:
    """The tools an MCP server offers (listed when the server is first used)."""
    tools = [{"name": n, "input_schema": {"type": "object"}} for n in names]
    return _item("mcp_list_tools", id, server_label=server_label, tools=tools)


def code_interpreter_call(code: str, *, logs: str = "", id: str | None = None) -> Item:
    """Code run in a container, with its logs."""
    outputs = [{"type": "logs", "logs": logs}] if logs else []
    return _item("code_interpreter_call", id, code=code, container_id="cntr_memori",
                 outputs=outputs, status="completed")


def local_shell_call(command: Sequence[str], *, call_id: str | None = None,
                     id: str | None = None) -> Item:
    """A command the model asks the caller to run (answered by ``local_shell_call_output``)."""
    action = {"type": "exec", "command": list(command), "env": {}}
    return _item("local_shell_call", id, call_id=call_id or "call_memori_lsh", action=action,
                 status="completed")


def shell_call(commands: Sequence[str], *, call_id: str | None = None,
               id: str | None = None) -> Item:
    """Commands for the shell tool (answered by a ``shell_call_output`` input item)."""
    return _item("shell_call", id, call_id=call_id or "call_memori_sh",
                 action={"commands": list(commands)}, status="completed")


def computer_call(action: Mapping[str, Any], *, call_id: str | None = None,
                  id: str | None = None) -> Item:
    """A computer-use action (``{"type": "click", "button": "left", "x": 1, "y": 2}``)."""
    return _item("computer_call", id, call_id=call_id or "call_memori_cu", action=dict(action),
                 pending_safety_checks=[], status="completed")


def _item(kind: str, id: str | None, **fields: Any) -> Item:
    item: Item = {"type": kind, **{k: v for k, v in fields.items() if v is not None}}
    if id is not None:
        item["id"] = id
    return item


def with_id(item: Mapping[str, Any], serial: int, index: int) -> Item:
    """The item with an id (``ws_memori<serial>_<index>`` style) when it has none."""
    prefix = _ID_PREFIX.get(str(item.get("type")), "item")
    return {"id": f"{prefix}_memori{serial}_{index}", **item}


def hosted_item_events(item: Mapping[str, Any], index: int) -> list[tuple[str, dict[str, Any]]]:
    """The events that stream one tool item: ``(type, fields)``, sequence numbers left out."""
    kind = str(item["type"])
    where = {"item_id": item["id"], "output_index": index}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.output_item.added",
         {"output_index": index, "item": {**item, "status": "in_progress"}})]
    if kind == "code_interpreter_call":
        events.append(("response.code_interpreter_call_code.done",
                       {**where, "code": item.get("code", "")}))
    if kind == "mcp_call":
        events.append(("response.mcp_call_arguments.done",
                       {**where, "arguments": item.get("arguments", "")}))
    stages = _PROGRESS.get(kind, ())
    if kind in ("mcp_call", "mcp_list_tools") and item.get("status") == "failed":
        stages = (*stages[:-1], "failed")
    events += [(f"response.{kind}.{stage}", dict(where)) for stage in stages]
    events.append(("response.output_item.done", {"output_index": index, "item": dict(item)}))
    return events
