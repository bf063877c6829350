"""Runs one memory tool on a ``Memori`` in the current attribution, with a JSON result.

Every call reads and writes as the current attribution (entity, persona, session): the
arguments can narrow what a tool touches, never widen it to another entity. Errors of
the Python API (a bad kind, metadata JSON cannot hold, an id not in the scope) come back
as :class:`ToolError` with a one-line message for the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from memori.core import Hit, Memory, NotFoundError, Turn
from memori.tools.errors import ToolError
from memori.tools.validation import check_arguments, parse_arguments, tool_spec

Result = dict[str, Any]


def call_tool(mem: Any, name: Any, arguments: Any = None,
              personas: Sequence[str] = ()) -> Result:
    """Check ``arguments`` (a dict or JSON text) against tool ``name`` and run it on ``mem``.

    ``personas`` lists the personas a call may pick with its ``persona`` argument (the
    MCP server's ``--allow-persona``); the pick holds for this call only.
    """
    spec = tool_spec(name)
    checked, persona = check_arguments(spec, parse_arguments(arguments), personas)
    current = _attributed(mem)
    if persona is None:
        return execute(mem, spec.name, checked)
    with mem.attribution(current.entity_id, persona, current.session_id):
        return execute(mem, spec.name, checked)


def execute(mem: Any, name: str, arguments: Mapping[str, Any]) -> Result:
    """Run tool ``name`` with checked ``arguments`` in the current attribution."""
    _attributed(mem)
    try:
        return _RUN[name](mem, dict(arguments))
    except ToolError:
        raise
    except NotFoundError as e:  # absent, or not visible in this scope: never told apart
        raise ToolError(f"{name}: {_message(e)}") from None
    except ValueError as e:
        raise ToolError(f"{name}: {_message(e)}") from None


def _attributed(mem: Any) -> Any:
    current = mem.current
    if current.entity_id is None:
        raise ToolError("no entity is attributed: call mem.attribution(entity_id=...) "
                        "before running memory tools")
    return current


def _remember(mem: Any, args: Result) -> Result:
    return {"memory": memory_json(mem.remember(args.pop("content"), **args))}


def _recall(mem: Any, args: Result) -> Result:
    return {"hits": [hit_json(h) for h in mem.recall(args.pop("query"), **args)]}


def _list_memories(mem: Any, args: Result) -> Result:
    for bound in ("since", "until"):
        if bound in args:
            args[bound] = parse_time(args[bound], bound)
    return {"memories": [memory_json(m) for m in mem.list_memories(**args)]}


def _update_memory(mem: Any, args: Result) -> Result:
    memory_id = args.pop("memory_id")
    if not args:
        raise ToolError("update_memory: give at least one of content, kind, metadata, shared, "
                        "pinned")
    return {"memory": memory_json(mem.update_memory(memory_id, **args))}


def _delete_memory(mem: Any, args: Result) -> Result:
    return {"memory_id": args["memory_id"], "deleted": bool(mem.delete_memory(args["memory_id"]))}


def _forget_session(mem: Any, args: Result) -> Result:
    current = mem.current
    session_id = args.get("session_id") or current.session_id
    if session_id is None:
        raise ToolError("forget_session: there is no current session; name one")
    if current.process_id is None and _held_by_a_persona(mem, current.entity_id, session_id):
        # forget(process_id=None) spans every persona: a tool bound to none may erase
        # only what it sees, the session's persona-less turns
        raise ToolError("forget_session: that session belongs to a persona this tool "
                        "cannot reach")
    removed = mem.forget(entity_id=current.entity_id, process_id=current.process_id,
                         session_id=session_id)
    return {"session_id": session_id, "removed": int(removed)}


def _held_by_a_persona(mem: Any, entity_id: str, session_id: str) -> bool:
    """Whether any turn of the session belongs to a persona (a scan of the entity:
    a rare, explicit call)."""
    return any(isinstance(item, Turn) and item.session_id == session_id
               and item.process_id is not None for item in mem.store.scan(entity_id))


_RUN: Mapping[str, Callable[[Any, Result], Result]] = {
    "remember": _remember,
    "recall": _recall,
    "list_memories": _list_memories,
    "update_memory": _update_memory,
    "delete_memory": _delete_memory,
    "forget_session": _forget_session,
}


def memory_json(memory: Memory) -> Result:
    """A memory as a tool result shows it (no entity: the caller knows whose it is)."""
    return {
        "id": memory.id,
        "content": memory.content,
        "kind": memory.kind,
        "persona": memory.process_id,
        "shared": memory.shared,
        "pinned": memory.pinned,
        "session_id": memory.session_id,
        "created_at": iso_time(memory.created_at),
        "updated_at": iso_time(memory.updated_at),
        "superseded_by": memory.superseded_by,
        "metadata": dict(memory.metadata),
    }


def hit_json(hit: Hit) -> Result:
    """A recall hit: the memory (or turn) and its score."""
    item = hit.item
    base: Result = memory_json(item) if isinstance(item, Memory) else {
        "id": item.id, "content": item.content, "role": item.role,
        "session_id": item.session_id, "created_at": iso_time(item.created_at)}
    return {**base, "type": hit.kind, "score": round(float(hit.score), 4)}


def iso_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str, name: str) -> datetime:
    """An ISO 8601 date or date-time (``Z`` allowed; UTC unless it names an offset)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ToolError(f"list_memories: {name} must be an ISO 8601 date or date-time, "
                        f"such as 2025-06-01 or 2025-06-01T12:00:00Z; got {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _message(error: BaseException) -> str:
    return str(error) or type(error).__name__
