"""retry, and the write path's state that stats and doctor show (pending, parked, set aside)."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from typing import Any

from memori.cli.common import open_memori, shown_text, url_of
from memori.cli.errors import OK
from memori.cli.output import emit_json, key_values
from memori.core import MemoryStore
from memori.pipeline import journal as journals
from memori.pipeline.durability import store_identity

SHOWN_REASONS = 5
SAMPLED_PARKED = 1000
"""Parked turns read to find the most common reasons (the count comes from admin_stats)."""


def pipeline_report(
    store: MemoryStore, args: argparse.Namespace, admin: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Turns waiting for extraction, parked turns by reason, and turns the store refused
    (kept in the local journal of this URL), as ``pipeline.*`` keys. ``admin``: the
    store's ``admin_stats()`` when the caller has read it already (its counts are used)."""
    admin = store.admin_stats() if admin is None else admin
    report: dict[str, Any] = {"pipeline.pending": admin.get("outbox_pending")}
    parked = store.outbox_parked(SAMPLED_PARKED) if admin.get("outbox_parked", 1) else []
    report["pipeline.parked"] = admin.get("outbox_parked", len(parked))
    report.update(_reasons("pipeline.parked", [t.extract_error or "" for t in parked], args))
    directory = _journal_dir(store, args)
    if directory is not None:
        aside = journals.rejected(directory)
        report["pipeline.set_aside"] = len(aside)
        report.update(_reasons("pipeline.set_aside", [reason for _, reason in aside], args))
        waiting = [p for p in directory.glob("*.jsonl") if p.name != journals.REJECTED]
        report["pipeline.journal_files"] = len(waiting)
    if report.get("pipeline.parked") or report.get("pipeline.set_aside"):
        report["pipeline.hint"] = "run 'memori retry' to queue them again"
    return report


def _reasons(prefix: str, reasons: list[str], args: argparse.Namespace) -> dict[str, Any]:
    common = Counter(r or "unknown" for r in reasons).most_common(SHOWN_REASONS)
    return {f"{prefix}.reason.{i + 1}": shown_text(f"{n} x {reason}", args)
            for i, (reason, n) in enumerate(common)}


def _journal_dir(store: MemoryStore, args: argparse.Namespace) -> Any:
    from memori.config import default_data_dir

    identity = store_identity(url_of(args), store)
    if identity is None:
        return None
    directory = journals.journal_dir(default_data_dir() / "journal", identity)
    return directory if directory.is_dir() else None


def cmd_retry(args: argparse.Namespace) -> int:
    """Queue parked turns for extraction again and record set-aside turns again, then run
    the pipeline once (bounded by --timeout) so they are stored and extracted now."""
    with open_memori(args, extractor="offline" if args.extract else None) as mem:
        count = mem.retry()
        done = mem.flush(timeout=args.timeout)
        report = {"requeued": count, "drained": done, **pipeline_report(mem.store, args)}
    if args.json:
        emit_json(report)
    else:
        key_values(report)
    return OK
