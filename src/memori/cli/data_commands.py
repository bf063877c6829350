"""remember, recall, list, forget, stats."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from memori.cli.common import open_memori, scope_of
from memori.cli.errors import ABORTED, NOT_FOUND, OK, USAGE, CLIError
from memori.cli.output import emit_json, key_values, table
from memori.cli.pipeline_commands import pipeline_report
from memori.core.records import memory_to_record


def cmd_remember(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        memory = mem.remember(args.text, entity_id=scope.entity_id, process_id=scope.process_id,
                              kind=args.kind, shared=args.shared, pinned=args.pinned,
                              ttl=args.ttl)
    if args.json:
        emit_json(_public(memory_to_record(memory)))
    else:
        print(memory.id)
    return OK


def cmd_recall(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        hits = mem.recall(args.query, entity_id=scope.entity_id, process_id=scope.process_id,
                          limit=args.limit, include_history=args.history)
    rows = [{"score": round(h.score, 3), "kind": h.kind, "id": h.id, "content": h.content}
            for h in hits]
    if args.json:
        emit_json(rows)
    elif rows:
        table(rows, ["score", "kind", "id", "content"])
    return OK if rows else NOT_FOUND


def cmd_list(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        memories = mem.store.list_memories(scope, include_superseded=args.history,
                                           limit=args.limit)
    rows = [_public(memory_to_record(m)) for m in memories]
    if args.json:
        emit_json(rows)
    else:
        table(rows, ["id", "kind", "process_id", "shared", "count", "superseded_by", "content"])
    return OK


def cmd_forget(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    grain = {"process_id": scope.process_id, "session_id": args.session,
             "memory_id": args.memory}
    if args.memory is not None and args.session is not None:
        raise CLIError("forget takes --session or --memory, not both", USAGE)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CLIError("refusing to erase without --yes when not on a terminal", USAGE)
        answer = input(f"Erase {_grain_text(args)}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("aborted", file=sys.stderr)
            return ABORTED
    with open_memori(args) as mem:
        removed = mem.forget(entity_id=scope.entity_id, **grain)
        # the items the public reads still show (raw_count is the suite's, not memori's)
        left = sum(1 for _ in mem.store.scan(scope.entity_id))
    if args.memory is not None and removed == 0:
        raise CLIError(f"no memory {args.memory!r} in entity {scope.entity_id!r}", NOT_FOUND)
    if args.json:
        emit_json({"entity_id": scope.entity_id, **{k: v for k, v in grain.items() if v},
                   "removed": removed, "remaining": left})
    else:
        print(f"removed {removed} item(s) of {_grain_text(args)}; "
              f"{left} remaining in the entity")
    return OK


def _grain_text(args: argparse.Namespace) -> str:
    """What ``forget`` erases, in words: the entity, or a persona, session or memory of it."""
    parts = [f"persona {args.process!r}" if args.process else "",
             f"session {args.session!r}" if args.session else "",
             f"memory {args.memory!r}" if args.memory else ""]
    named = ", ".join(p for p in parts if p)
    entity = f"entity {args.entity!r}"
    return f"{named} of {entity}" if named else f"everything stored for {entity}"


def cmd_stats(args: argparse.Namespace) -> int:
    with open_memori(args) as mem:
        admin = mem.store.admin_stats()
        stats = {**admin, **pipeline_report(mem.store, args, admin)}
    if args.json:
        emit_json(stats)
    else:
        key_values(stats)
    return OK


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("embedding", "v")}
