"""``memori memories list/show/edit/delete/history/pin/unpin``: single memories of a scope."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from memori.cli.common import open_memori, scope_of
from memori.cli.errors import NOT_FOUND, OK, USAGE, CLIError
from memori.cli.output import emit_json, key_values, table
from memori.core import Memory
from memori.core.records import memory_to_record

COLUMNS = ["id", "created", "kind", "process_id", "shared", "pinned", "superseded_by",
           "content"]


Options = Callable[[argparse.ArgumentParser], None]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Options,
             scope: Options) -> None:
    """Add ``memories`` and its subcommands to the parser's subcommands."""
    group = sub.add_parser("memories", help="list, show, edit, delete a scope's memories",
                           description="Manage the memories one scope (--entity, --persona) "
                                       "sees.")
    common(group)
    inner = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, fn: Callable[[argparse.Namespace], int], text: str,
            ) -> argparse.ArgumentParser:
        p = inner.add_parser(name, help=text, description=text)
        common(p)
        scope(p)
        p.set_defaults(fn=fn)
        return p

    p = add("list", cmd_list, "the memories the scope sees, newest first (exit 3 when none)")
    p.add_argument("--kind")
    p.add_argument("--contains", help="a case-insensitive part of the text")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="metadata KEY equal to VALUE (JSON, else text); repeatable")
    p.add_argument("--since", help="created at or after: ISO date/time or epoch seconds")
    p.add_argument("--until", help="created at or before: ISO date/time or epoch seconds")
    p.add_argument("--history", action="store_true", help="include superseded memories")
    p.add_argument("--pinned", action="store_true", help="only pinned memories")
    p.add_argument("--expired", action="store_true",
                   help="include expired memories not yet swept")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p = add("show", cmd_show, "one memory (exit 3 when the scope does not see it)")
    p.add_argument("memory_id")
    p = add("edit", cmd_edit, "change a memory's text, kind, metadata or sharing")
    p.add_argument("memory_id")
    p.add_argument("--text", help="the new text (embedded and indexed again)")
    p.add_argument("--kind")
    p.add_argument("--metadata", help="new metadata as a JSON object (replaces the old)")
    shared = p.add_mutually_exclusive_group()
    shared.add_argument("--shared", dest="shared", action="store_const", const=True,
                        help="visible to every persona of the entity")
    shared.add_argument("--not-shared", dest="shared", action="store_const", const=False)
    p.add_argument("--expires", metavar="WHEN",
                   help="when it expires: ISO date/time, epoch seconds, or 'never'")
    p = add("pin", cmd_pin, "pin a memory: every call of its scope injects it first")
    p.add_argument("memory_id")
    p = add("unpin", cmd_unpin, "unpin a memory")
    p.add_argument("memory_id")
    p = add("delete", cmd_delete, "delete one memory (exit 3 when the scope does not see it)")
    p.add_argument("memory_id")
    p = add("history", cmd_history, "what the memory superseded and what superseded it")
    p.add_argument("memory_id")


def cmd_list(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        memories = mem.list_memories(
            kind=args.kind, contains=args.contains, metadata=_meta(args.meta),
            since=_time(args.since, "--since"), until=_time(args.until, "--until"),
            include_superseded=args.history, limit=args.limit, offset=args.offset,
            entity_id=scope.entity_id, process_id=scope.process_id,
            pinned=True if args.pinned else None, include_expired=args.expired)
    _print_memories(memories, args)
    return OK if memories else NOT_FOUND


def cmd_show(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        found = mem.get_memory(args.memory_id, entity_id=scope.entity_id,
                               process_id=scope.process_id)
    if found is None:
        raise CLIError(_unseen(args), NOT_FOUND)
    row = public_record(found)
    if args.json:
        emit_json(row)
    else:
        key_values(row)
    return OK


def cmd_edit(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    metadata = None if args.metadata is None else _json_object(args.metadata)
    if args.text is None and args.kind is None and metadata is None and args.shared is None \
            and args.expires is None:
        raise CLIError("nothing to change: give --text, --kind, --metadata, --shared or "
                       "--expires", USAGE)
    expiry: dict[str, Any] = {}
    if args.expires is not None:
        expiry["expires_at"] = None if args.expires.lower() == "never" \
            else _time(args.expires, "--expires")
    with open_memori(args) as mem:
        updated = mem.update_memory(args.memory_id, content=args.text, kind=args.kind,
                                    metadata=metadata, shared=args.shared,
                                    entity_id=scope.entity_id, process_id=scope.process_id,
                                    **expiry)
    _print_updated(updated, args)
    return OK


def cmd_pin(args: argparse.Namespace) -> int:
    return _set_pinned(args, True)


def cmd_unpin(args: argparse.Namespace) -> int:
    return _set_pinned(args, False)


def _set_pinned(args: argparse.Namespace, pinned: bool) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        updated = mem.update_memory(args.memory_id, pinned=pinned, entity_id=scope.entity_id,
                                    process_id=scope.process_id)
    _print_updated(updated, args)
    return OK


def _print_updated(updated: Memory, args: argparse.Namespace) -> None:
    if args.json:
        emit_json(public_record(updated))
    else:
        print(updated.id)


def cmd_delete(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        deleted = mem.delete_memory(args.memory_id, entity_id=scope.entity_id,
                                    process_id=scope.process_id)
    if not deleted:
        raise CLIError(_unseen(args), NOT_FOUND)
    if args.json:
        emit_json({"id": args.memory_id, "deleted": True})
    else:
        print(f"deleted {args.memory_id}")
    return OK


def cmd_history(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        chain = mem.memory_history(args.memory_id, entity_id=scope.entity_id,
                                   process_id=scope.process_id)
    _print_memories(chain, args)
    return OK


def public_record(memory: Memory) -> dict[str, Any]:
    """A memory as the CLI shows it: its record without the vector."""
    return {k: v for k, v in memory_to_record(memory).items() if k not in ("embedding", "v")}


def _print_memories(memories: list[Memory], args: argparse.Namespace) -> None:
    rows = [public_record(m) for m in memories]
    if args.json:
        emit_json(rows)
    elif rows:
        for row, m in zip(rows, memories, strict=True):
            row["created"] = datetime.fromtimestamp(m.created_at).isoformat(timespec="seconds")
        table(rows, COLUMNS)


def _unseen(args: argparse.Namespace) -> str:
    persona = f" (persona {args.process!r})" if args.process else ""
    return f"no memory {args.memory_id!r} visible to entity {args.entity!r}{persona}"


def _meta(pairs: list[str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--meta takes KEY=VALUE, got {pair!r}", USAGE)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out or None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise CLIError(f"--metadata is not JSON: {e}", USAGE) from e
    if not isinstance(value, dict):
        raise CLIError("--metadata must be a JSON object", USAGE)
    return value


def _time(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as e:
        raise CLIError(f"{flag} takes an ISO date/time or epoch seconds, got {text!r}",
                       USAGE) from e
