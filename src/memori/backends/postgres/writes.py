"""Writing turns and memories: multi-row upserts for small batches, COPY for large ones.

Turns and memories are keyed by ``(entity_id, id)`` and replaced when written
again (the last copy of an id in one batch wins). The outbox follows the turns:
a pending turn has an outbox row, any other turn has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from memori.backends.postgres import bulk
from memori.backends.postgres.context import Context, ids_any
from memori.backends.postgres.layout import qualified, quote_ident
from memori.backends.postgres.steps import Exec
from memori.backends.postgres.text import tsvector_text
from memori.backends.postgres.vectors import to_binary, to_text
from memori.backends.sql.rows import MEMORY_COLUMNS, TURN_COLUMNS, memory_to_row, turn_to_row
from memori.backends.sql.tables import MEMORIES, OUTBOX, TURNS
from memori.core.models import ExtractState, Memory, Turn
from memori.core.plan_store import Plan

PENDING = ExtractState.PENDING.value
KEY = ("entity_id", "id")


def turn_rows(ctx: Context, turns: Iterable[Turn]) -> list[dict[str, Any]]:
    """Column values of ``turns``, deduplicated by key (last wins), vectors checked (float32)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for t in turns:
        if not isinstance(t, Turn):
            raise ValueError(f"append_turns takes Turn objects, got {type(t).__name__}")
        row = turn_to_row(t, ctx.codec.check)
        row["search_tsv"] = tsvector_text(t.content, t.entity_id)
        rows[(t.entity_id, t.id)] = row
    return list(rows.values())


def memory_rows(ctx: Context, memories: Iterable[Memory]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for m in memories:
        if not isinstance(m, Memory):
            raise ValueError(f"put_memories takes Memory objects, got {type(m).__name__}")
        row = memory_to_row(m, ctx.codec.check)
        row["search_tsv"] = tsvector_text(m.content, m.entity_id)
        rows[(m.entity_id, m.id)] = row
    return list(rows.values())


def _stage_tuple(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> tuple[Any, ...]:
    """A COPY row: vectors in pgvector's binary form."""
    out = []
    for name, kind in columns:
        value = row[name]
        if kind == "vector" and value is not None:
            value = bulk.VectorBytes(to_binary(value))
        out.append(value)
    return tuple(out)


def _statement_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for an INSERT statement: vectors in pgvector's text form."""
    return [
        {**r, "embedding": None if r["embedding"] is None else to_text(r["embedding"])}
        for r in rows
    ]


def upsert_turns(ctx: Context, rows: Sequence[dict[str, Any]]) -> Plan[None]:
    """Insert or replace turns and bring their outbox rows in line."""
    if not rows:
        return
    layout = ctx.layout
    t, o = layout.turns, layout.outbox
    if len(rows) >= bulk.MIN_ROWS:
        stage = "memori_stage_turns"
        yield bulk.CopyRows(stage, bulk.TURN_STAGE,
                            (_stage_tuple(r, bulk.TURN_STAGE) for r in rows))
        yield Exec(text(bulk.merge_sql(layout.schema, TURNS, stage, bulk.TURN_STAGE, key=KEY)))
        out = qualified(layout.schema, OUTBOX)
        yield Exec(text(
            f"INSERT INTO {out} (entity_id, turn_id, created_at) "
            f"SELECT entity_id, id, created_at FROM {quote_ident(stage)} "
            f"WHERE extract_state = '{PENDING}' ON CONFLICT (entity_id, turn_id) "
            "DO UPDATE SET created_at = EXCLUDED.created_at"
        ))
        yield Exec(text(
            f"DELETE FROM {out} o USING {quote_ident(stage)} s WHERE o.entity_id = s.entity_id "
            f"AND o.turn_id = s.id AND s.extract_state <> '{PENDING}'"
        ))
        return
    stmt = pg_insert(t)
    names = (*TURN_COLUMNS, "search_tsv")
    changed = {c: stmt.excluded[c] for c in names if c not in KEY}
    yield Exec(stmt.on_conflict_do_update(index_elements=list(KEY), set_=changed),
               _statement_rows(rows))
    pending = [
        {"entity_id": r["entity_id"], "turn_id": r["id"], "created_at": r["created_at"]}
        for r in rows if r["extract_state"] == PENDING
    ]
    if pending:
        ins = pg_insert(o)
        yield Exec(
            ins.on_conflict_do_update(index_elements=["entity_id", "turn_id"],
                                      set_={"created_at": ins.excluded.created_at}),
            pending,
        )
    settled: dict[str, list[str]] = {}
    for r in rows:
        if r["extract_state"] != PENDING:
            settled.setdefault(r["entity_id"], []).append(r["id"])
    for entity_id, turn_ids in settled.items():
        where = and_(o.c.entity_id == entity_id, ids_any(o.c.turn_id, turn_ids))
        yield Exec(delete(o).where(where))


def upsert_memories(ctx: Context, rows: Sequence[dict[str, Any]]) -> Plan[None]:
    """Insert or replace memories."""
    if not rows:
        return
    layout = ctx.layout
    if len(rows) >= bulk.MIN_ROWS:
        stage = "memori_stage_memories"
        yield bulk.CopyRows(stage, bulk.MEMORY_STAGE,
                            (_stage_tuple(r, bulk.MEMORY_STAGE) for r in rows))
        yield Exec(text(bulk.merge_sql(layout.schema, MEMORIES, stage, bulk.MEMORY_STAGE, key=KEY)))
        return
    stmt = pg_insert(layout.memories)
    names = (*MEMORY_COLUMNS, "search_tsv")
    changed = {c: stmt.excluded[c] for c in names if c not in KEY}
    yield Exec(stmt.on_conflict_do_update(index_elements=list(KEY), set_=changed),
               _statement_rows(rows))
