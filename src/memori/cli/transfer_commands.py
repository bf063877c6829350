"""export and import: JSONL streams that move memories between any two backends.

Each exported line is a record (``memori.core.records``) plus the name of the
embedder that made its vector; import re-embeds when that differs from the
target's embedder (or the dimension does), so vectors always match the model
that will query them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from memori.cli.common import open_memori
from memori.cli.errors import OK, USAGE, CLIError
from memori.cli.output import Progress, emit_json
from memori.core import check_id

BATCH = 500


def cmd_export(args: argparse.Namespace) -> int:
    with open_memori(args) as mem:
        if args.entity is not None:
            check_id(args.entity, "entity_id")
            records = mem.store.export(args.entity)
        else:
            records = mem.store.admin_export_all()
        name = mem.embedder.name if mem.embedder is not None else None
        progress = Progress("exported")
        out = sys.stdout
        for record in records:
            if args.no_turns and record.get("type") == "turn":
                continue
            record["embedder"] = name if record.get("embedding") is not None else None
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress.advance()
        out.flush()
        progress.done()
    return OK


def _lines(stream: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        yield from _records(stream)
    except UnicodeDecodeError as e:
        raise CLIError(f"the input is not UTF-8 text ({e.reason} at byte {e.start})",
                       USAGE) from e


def _records(stream: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CLIError(f"line {number}: not JSON ({e.msg})", USAGE) from e
        if not isinstance(record, dict) or record.get("type") not in ("turn", "memory"):
            raise CLIError(f"line {number}: not a memori record", USAGE)
        yield number, record


def _count_records(source: Any) -> int | None:
    """Non-empty lines of a seekable file (the progress total), read ahead and rewound."""
    try:
        if not source.seekable():
            return None
        start = source.tell()
    except (OSError, ValueError):
        return None
    try:
        return sum(1 for line in source if line.strip())
    except (OSError, ValueError):  # UnicodeDecodeError among them: the import says so
        return None
    finally:
        source.seek(start)


def cmd_import(args: argparse.Namespace) -> int:
    source = open(args.file, encoding="utf-8") if args.file != "-" else sys.stdin  # noqa: SIM115
    try:
        with open_memori(args) as mem:
            embedder = mem.embedder
            dim = mem.store.vector_dim
            progress = Progress("imported", total=_count_records(source))
            total = 0
            batch: list[dict[str, Any]] = []
            for _number, record in _lines(source):
                vec = record.get("embedding")
                same_model = embedder is not None and record.get("embedder") == embedder.name
                if vec is not None and not (same_model and dim is not None and len(vec) == dim):
                    record["embedding"] = None
                if record["embedding"] is None and embedder is not None and dim is not None:
                    record["_reembed"] = True
                batch.append(record)
                if len(batch) >= BATCH:
                    total += _flush(mem, batch)
                    progress.advance(len(batch))
                    batch = []
            if batch:
                total += _flush(mem, batch)
                progress.advance(len(batch))
            progress.done()
    finally:
        if source is not sys.stdin:
            source.close()
    seconds = progress.seconds
    if getattr(args, "json", False):
        emit_json({"imported": total, "seconds": round(seconds, 3),
                   "per_second": round(total / max(seconds, 1e-9), 1)})
    else:
        print(f"imported {total} record(s) in {seconds:.1f} s "
              f"({total / max(seconds, 1e-9):,.0f}/s)", file=sys.stderr)
    return OK


def _flush(mem: Any, batch: list[dict[str, Any]]) -> int:
    todo = [r for r in batch if r.pop("_reembed", False) and r.get("content")]
    if todo:
        vectors = mem.embedder.embed([r["content"] for r in todo])
        for record, vec in zip(todo, vectors, strict=True):
            record["embedding"] = list(vec)
    for record in batch:
        record.pop("embedder", None)
    try:
        count: int = mem.store.import_records(batch)
    except (KeyError, ValueError) as e:
        raise CLIError(f"invalid record: {e}", USAGE) from e
    return count
