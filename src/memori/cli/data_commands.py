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
from memori.core.store_base import stored_count


def cmd_remember(args: argparse.Namespace) -> int:
    scope = scope_of(args)
    with open_memori(args) as mem:
        memory = mem.remember(args.text, entity_id=scope.entity_id, process_id=scope.process_id,
                              kind=args.kind, shared=args.shared)
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
    if not args.yes:
        if not sys.stdin.isatty():
            raise CLIError("refusing to erase without --yes when not on a terminal", USAGE)
        answer = input(f"Erase everything stored for entity {scope.entity_id!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("aborted", file=sys.stderr)
            return ABORTED
    with open_memori(args) as mem:
        removed = mem.forget(entity_id=scope.entity_id)
        left = stored_count(mem.store, scope.entity_id)  # raw_count when the store has it
    if args.json:
        emit_json({"entity_id": scope.entity_id, "removed": removed, "remaining": left})
    else:
        print(f"removed {removed} item(s) of {scope.entity_id!r}; {left} remaining")
    return OK


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
