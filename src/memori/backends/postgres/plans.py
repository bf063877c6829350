"""Reads, deletes, whole-entity, outbox and admin operations as sans-I/O plans.

Each function validates its arguments at once, then returns the generator that
the runner drives inside one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, delete, func, literal, or_, select, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from memori.backends.postgres.context import (
    Context,
    check_limit,
    decode_vector,
    ids_any,
    item_ids,
    memory_columns,
    turn_columns,
)
from memori.backends.postgres.steps import Exec, Plan
from memori.backends.postgres.text import tsvector_text
from memori.backends.postgres.vectors import to_text
from memori.backends.sql.filters import memory_visible, turn_scope
from memori.backends.sql.rows import RowLike, memory_patch_to_values, row_to_memory, row_to_turn
from memori.core.ids import check_id
from memori.core.models import ExtractState, Memory, Scope, Turn

PENDING = ExtractState.PENDING.value
PARKED = ExtractState.PARKED.value


def to_turn(row: RowLike) -> Turn:
    return row_to_turn(row, decode_vector)


def to_memory(row: RowLike) -> Memory:
    return row_to_memory(row, decode_vector)


# turns


def list_turns(ctx: Context, scope: Scope, limit: int | None) -> Plan[list[Turn]]:
    check_limit(limit)
    t = ctx.layout.turns
    stmt = select(*turn_columns(t)).where(turn_scope(t, scope))
    if limit is None:
        stmt = stmt.order_by(t.c.created_at, t.c.id.collate("C"))
    else:
        stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.collate("C").desc()).limit(limit)
    return _list_turns(stmt, newest_first=limit is not None)


def _list_turns(stmt: Any, *, newest_first: bool) -> Plan[list[Turn]]:
    turns = [to_turn(r) for r in (yield Exec(stmt)).mappings()]
    return turns[::-1] if newest_first else turns


def count_rows(stmt: Any) -> Plan[int]:
    return int((yield Exec(stmt)).scalar_one())


def count_turns(ctx: Context, scope: Scope) -> Plan[int]:
    t = ctx.layout.turns
    return count_rows(select(func.count()).select_from(t).where(turn_scope(t, scope)))


def delete_turns(ctx: Context, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
    """Turns of the scope (all, or those named) and their outbox rows, in one statement."""
    t, o = ctx.layout.turns, ctx.layout.outbox
    where = turn_scope(t, scope)
    if turn_ids is not None:
        wanted = item_ids(turn_ids, "turn_id")
        if not wanted:
            return count_rows(select(literal(0)))
        where = and_(where, ids_any(t.c.id, wanted))
    gone = delete(t).where(where).returning(t.c.id).cte("memori_deleted_turns")
    outbox = (
        delete(o)
        .where(o.c.entity_id == scope.entity_id, o.c.turn_id.in_(select(gone.c.id)))
        .returning(o.c.turn_id)
        .cte("memori_deleted_outbox")
    )
    return count_rows(select(func.count()).select_from(gone).add_cte(outbox))


# memories


def get_memory(ctx: Context, scope: Scope, memory_id: str) -> Plan[Memory | None]:
    check_id(memory_id, "memory_id")
    m = ctx.layout.memories
    where = and_(memory_visible(m, scope, include_superseded=True), m.c.id == memory_id)
    return _first_memory(select(*memory_columns(m)).where(where))


def _first_memory(stmt: Any) -> Plan[Memory | None]:
    row = (yield Exec(stmt)).mappings().first()
    return None if row is None else to_memory(row)


def list_memories(
    ctx: Context, scope: Scope, include_superseded: bool, limit: int | None, offset: int
) -> Plan[list[Memory]]:
    check_limit(limit)
    check_limit(offset, "offset")
    m = ctx.layout.memories
    stmt = (
        select(*memory_columns(m))
        .where(memory_visible(m, scope, include_superseded=include_superseded))
        .order_by(m.c.created_at, m.c.id.collate("C"))
        .limit(limit)
        .offset(offset or None)
    )
    return _memories(stmt)


def _memories(stmt: Any) -> Plan[list[Memory]]:
    return [to_memory(r) for r in (yield Exec(stmt)).mappings()]


def count_memories(ctx: Context, scope: Scope, include_superseded: bool) -> Plan[int]:
    m = ctx.layout.memories
    where = memory_visible(m, scope, include_superseded=include_superseded)
    return count_rows(select(func.count()).select_from(m).where(where))


def update_memory(
    ctx: Context, scope: Scope, memory_id: str, changes: Mapping[str, Any]
) -> Plan[bool]:
    """Change fields of a visible memory (superseded ones included); False when none."""
    check_id(memory_id, "memory_id")
    values = memory_patch_to_values(changes, ctx.codec.check)
    if "embedding" in values and values["embedding"] is not None:
        values["embedding"] = to_text(values["embedding"])
    if "content" in values:
        values["search_tsv"] = tsvector_text(values["content"], scope.entity_id)
    m = ctx.layout.memories
    where = and_(memory_visible(m, scope, include_superseded=True), m.c.id == memory_id)
    if not values:
        return _exists(select(func.count()).select_from(m).where(where))
    return _changed(update(m).where(where).values(**values))


def _exists(stmt: Any) -> Plan[bool]:
    return int((yield Exec(stmt)).scalar_one()) > 0


def _changed(stmt: Any) -> Plan[bool]:
    return int((yield Exec(stmt)).rowcount) > 0


def delete_memories(ctx: Context, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
    wanted = item_ids(memory_ids, "memory_id")
    m = ctx.layout.memories
    where = and_(memory_visible(m, scope, include_superseded=True), ids_any(m.c.id, wanted))
    return _deleted(delete(m).where(where), bool(wanted))


def _deleted(stmt: Any, run: bool) -> Plan[int]:
    if not run:
        return 0
    return int((yield Exec(stmt)).rowcount)


# whole entity


def forget(ctx: Context, entity_id: str) -> Plan[int]:
    """Delete every row of the entity in one statement; counts turns and memories."""
    check_id(entity_id)
    t, m, o = ctx.layout.turns, ctx.layout.memories, ctx.layout.outbox
    gone_o = delete(o).where(o.c.entity_id == entity_id).returning(o.c.turn_id).cte("memori_fo")
    gone_t = delete(t).where(t.c.entity_id == entity_id).returning(t.c.id).cte("memori_ft")
    gone_m = delete(m).where(m.c.entity_id == entity_id).returning(m.c.id).cte("memori_fm")
    total = (
        select(func.count()).select_from(gone_t).scalar_subquery()
        + select(func.count()).select_from(gone_m).scalar_subquery()
    )
    return count_rows(select(total).add_cte(gone_o))


def raw_count(ctx: Context, entity_id: str) -> Plan[int]:
    """Rows of the entity in every table (the search column lives in the rows themselves)."""
    check_id(entity_id)
    parts = [
        select(func.count()).select_from(tb).where(tb.c.entity_id == entity_id).scalar_subquery()
        for tb in (ctx.layout.turns, ctx.layout.memories, ctx.layout.outbox)
    ]
    return count_rows(select(parts[0] + parts[1] + parts[2]))


def page(
    ctx: Context, table: Table, entity_id: str, after: tuple[float, str] | None, size: int
) -> Plan[list[RowLike]]:
    """One page of the entity's rows on (created_at, id), oldest first."""
    cols = turn_columns(table) if table is ctx.layout.turns else memory_columns(table)
    stmt = select(*cols).where(table.c.entity_id == entity_id)
    if after is not None:
        created, item = after
        stmt = stmt.where(or_(
            table.c.created_at > created,
            and_(table.c.created_at == created, table.c.id.collate("C") > item),
        ))
    stmt = stmt.order_by(table.c.created_at, table.c.id.collate("C")).limit(size)
    return _rows(stmt)


def _rows(stmt: Any) -> Plan[list[RowLike]]:
    return list((yield Exec(stmt)).mappings().all())


def entity_ids(ctx: Context) -> Plan[list[str]]:
    """Every entity with turns or memories (crosses entities: admin only)."""
    t, m = ctx.layout.turns, ctx.layout.memories
    u = union(select(t.c.entity_id), select(m.c.entity_id)).subquery()
    return _strings(select(u.c.entity_id).order_by(u.c.entity_id.collate("C")))


def _strings(stmt: Any) -> Plan[list[str]]:
    return [str(r[0]) for r in (yield Exec(stmt))]


# outbox (crosses entities)


def outbox_pending(ctx: Context, limit: int) -> Plan[list[Turn]]:
    check_limit(limit)
    t, o = ctx.layout.turns, ctx.layout.outbox
    stmt = (
        select(*turn_columns(t))
        .select_from(o.join(t, and_(t.c.entity_id == o.c.entity_id, t.c.id == o.c.turn_id)))
        .where(t.c.extract_state == PENDING)
        .order_by(t.c.created_at, o.c.entity_id.collate("C"), o.c.turn_id.collate("C"))
        .limit(limit)
    )
    return _list_turns(stmt, newest_first=False)


def outbox_parked(ctx: Context, limit: int) -> Plan[list[Turn]]:
    """Parked turns, oldest first: the outbox table holds pending work only, so this
    reads the turns table (no index on ``extract_state``: a scan on a big table)."""
    check_limit(limit)
    t = ctx.layout.turns
    stmt = (
        select(*turn_columns(t))
        .where(t.c.extract_state == PARKED)
        .order_by(t.c.created_at, t.c.entity_id.collate("C"), t.c.id.collate("C"))
        .limit(limit)
    )
    return _list_turns(stmt, newest_first=False)


def outbox_mark(
    ctx: Context, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
    attempts: int | None, error: str | None,
) -> Plan[None]:
    """Set the extraction state; a pending turn gets an outbox row, others lose theirs."""
    check_id(entity_id)
    wanted = item_ids(turn_ids, "turn_id")
    new_state = ExtractState(state)
    return _mark(ctx, entity_id, wanted, new_state, attempts, error)


def _mark(
    ctx: Context, entity_id: str, wanted: list[str], state: ExtractState,
    attempts: int | None, error: str | None,
) -> Plan[None]:
    if not wanted:
        return
    t, o = ctx.layout.turns, ctx.layout.outbox
    values: dict[str, Any] = {"extract_state": state.value}
    if attempts is not None:
        values["extract_attempts"] = int(attempts)
    if error is not None:
        values["extract_error"] = str(error)
    stmt = (
        update(t).where(t.c.entity_id == entity_id, ids_any(t.c.id, wanted)).values(**values)
        .returning(t.c.id, t.c.created_at)
    )
    marked = (yield Exec(stmt)).all()
    if not marked:
        return
    if state is ExtractState.PENDING:
        rows = [{"entity_id": entity_id, "turn_id": r[0], "created_at": r[1]} for r in marked]
        yield Exec(pg_insert(o).on_conflict_do_nothing(), rows)
    else:
        yield Exec(delete(o).where(o.c.entity_id == entity_id,
                                   ids_any(o.c.turn_id, [r[0] for r in marked])))


# admin (crosses entities)


def admin_counts(ctx: Context) -> Plan[dict[str, int]]:
    t, m, o = ctx.layout.turns, ctx.layout.memories, ctx.layout.outbox
    u = union(select(t.c.entity_id), select(m.c.entity_id)).subquery()
    stmt = select(
        select(func.count()).select_from(t).scalar_subquery().label("turns"),
        select(func.count()).select_from(m).scalar_subquery().label("memories"),
        select(func.count()).select_from(u).scalar_subquery().label("entities"),
        select(func.count()).select_from(o).scalar_subquery().label("outbox_pending"),
        select(func.count()).select_from(t).where(t.c.extract_state == PARKED)
        .scalar_subquery().label("outbox_parked"),
    )
    return _counts(stmt)


def _counts(stmt: Any) -> Plan[dict[str, int]]:
    row = (yield Exec(stmt)).mappings().one()
    return {k: int(v) for k, v in row.items()}
