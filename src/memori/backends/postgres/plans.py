"""The PostgreSQL store's operations as sans-I/O plans: ``PlanStore``'s ``plan_*`` methods.

``PlanStore`` checks scopes and limits; each plan here checks the ids and changes it
is given as it is built, then yields the statements the runner executes in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, and_, delete, func, or_, select, true, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from memori.backends.postgres import writes
from memori.backends.postgres.context import (
    Context,
    decode_vector,
    ids_any,
    memory_columns,
    turn_columns,
)
from memori.backends.postgres.recall import search_plan
from memori.backends.postgres.steps import Exec
from memori.backends.postgres.text import tsvector_text
from memori.backends.sql.filters import memory_visible, turn_scope
from memori.backends.sql.rows import RowLike, memory_patch_to_values, row_to_memory, row_to_turn
from memori.backends.sql.summaries import entity_counts_plan
from memori.core.expiry import check_moment
from memori.core.ids import check_id
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.plan_store import Plan, PlanStore, Work
from memori.core.store_rules import check_item_ids, check_scope
from memori.core.summaries import EntityCounts

PENDING = ExtractState.PENDING.value
PARKED = ExtractState.PARKED.value

T = TypeVar("T")


def to_turn(row: RowLike) -> Turn:
    return row_to_turn(row, decode_vector)


def to_memory(row: RowLike) -> Memory:
    return row_to_memory(row, decode_vector)


def _read(stmt: Any, read: Callable[[Any], T]) -> Plan[T]:
    """One statement; ``read`` turns its result into the plan's value."""
    return read((yield Exec(stmt)))


def _value(value: T) -> Plan[T]:
    """A plan that needs no statement."""
    yield from ()
    return value


def _count(result: Any) -> int:
    return int(result.scalar_one())


def _turns(result: Any) -> list[Turn]:
    return [to_turn(r) for r in result.mappings()]


def _memories(result: Any) -> list[Memory]:
    return [to_memory(r) for r in result.mappings()]


def _first_memory(result: Any) -> Memory | None:
    row = result.mappings().first()
    return None if row is None else to_memory(row)


def _some_ids(ids: Sequence[str], name: str) -> list[str]:
    """The checked ids of a call where None (every item) is not allowed."""
    wanted = check_item_ids(ids, name)
    if wanted is None:
        raise TypeError(f"{name}s must be a sequence of ids, not None")
    return wanted


class PostgresPlans(PlanStore):
    """The plans of ``PostgresStore``, which adds the runners, setup and admin calls."""

    _ctx: Context

    # turns

    def plan_append_turns(self, turns: Sequence[Turn]) -> Plan[None]:
        """Insert turns (a turn written again replaces the stored one); pending ones are queued."""
        return writes.upsert_turns(self._ctx, writes.turn_rows(self._ctx, turns))

    def plan_list_turns(self, scope: Scope, limit: int | None) -> Plan[list[Turn]]:
        t = self._ctx.layout.turns
        stmt = select(*turn_columns(t)).where(turn_scope(t, scope))
        if limit is None:
            return _read(stmt.order_by(t.c.created_at, t.c.id.collate("C")), _turns)
        stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.collate("C").desc()).limit(limit)
        return _read(stmt, lambda result: _turns(result)[::-1])

    def plan_count_turns(self, scope: Scope) -> Plan[int]:
        t = self._ctx.layout.turns
        return _read(select(func.count()).select_from(t).where(turn_scope(t, scope)), _count)

    def plan_delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
        """Turns of the scope (all, or those named) and their outbox rows, in one statement."""
        t, o = self._ctx.layout.turns, self._ctx.layout.outbox
        where = turn_scope(t, scope)
        wanted = check_item_ids(turn_ids, "turn_id")
        if wanted is not None:
            if not wanted:
                return _value(0)
            where = and_(where, ids_any(t.c.id, wanted))
        gone = delete(t).where(where).returning(t.c.id).cte("memori_deleted_turns")
        outbox = (
            delete(o)
            .where(o.c.entity_id == scope.entity_id, o.c.turn_id.in_(select(gone.c.id)))
            .returning(o.c.turn_id)
            .cte("memori_deleted_outbox")
        )
        return _read(select(func.count()).select_from(gone).add_cte(outbox), _count)

    def plan_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        explain: bool = False,
    ) -> Plan[list[Hit]]:
        return search_plan(self._ctx, self._ctx.layout.turns, scope, text, vector, limit,
                           to_turn, explain=explain)

    # memories

    def plan_put_memories(self, memories: Sequence[Memory]) -> Plan[None]:
        """Insert or replace memories, keyed by ``(entity_id, id)``."""
        return writes.upsert_memories(self._ctx, writes.memory_rows(self._ctx, memories))

    def plan_get_memory(self, scope: Scope, memory_id: str) -> Plan[Memory | None]:
        check_id(memory_id, "memory_id")
        m = self._ctx.layout.memories
        where = and_(memory_visible(m, scope, include_superseded=True), m.c.id == memory_id)
        return _read(select(*memory_columns(m)).where(where), _first_memory)

    def plan_list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> Plan[list[Memory]]:
        m = self._ctx.layout.memories
        stmt = (
            select(*memory_columns(m))
            .where(memory_visible(m, scope, include_superseded=include_superseded))
            .order_by(m.c.created_at, m.c.id.collate("C"))
            .limit(limit)
            .offset(offset or None)
        )
        return _read(stmt, _memories)

    def plan_list_pinned(self, scope: Scope) -> Plan[list[Memory]]:
        m = self._ctx.layout.memories
        stmt = (select(*memory_columns(m))
                .where(memory_visible(m, scope, include_superseded=False)
                       & (m.c.pinned == true()))
                .order_by(m.c.created_at, m.c.id.collate("C")))
        return _read(stmt, _memories)

    def plan_sweep_expired(self, at: float) -> Plan[int]:
        m = self._ctx.layout.memories
        return _read(delete(m).where(m.c.expires_at <= at), lambda result: int(result.rowcount))

    def sweep_expired(self, at: float) -> int:
        """Every entity's expired memories in one ``DELETE`` (``SupportsSweepExpired``)."""
        return self.run(self.plan_sweep_expired(check_moment(at)), Work("sweep_expired", None))

    async def asweep_expired(self, at: float) -> int:
        return await self.arun(self.plan_sweep_expired(check_moment(at)),
                               Work("sweep_expired", None))

    def list_pinned(self, scope: Scope) -> list[Memory]:
        """The scope's current pinned memories, oldest first (``SupportsListPinned``)."""
        check_scope(scope)
        return self.run(self.plan_list_pinned(scope),
                        Work("list_pinned", scope.entity_id, read_only=True))

    def plan_count_memories(self, scope: Scope, include_superseded: bool) -> Plan[int]:
        m = self._ctx.layout.memories
        where = memory_visible(m, scope, include_superseded=include_superseded)
        return _read(select(func.count()).select_from(m).where(where), _count)

    def plan_update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> Plan[bool]:
        """Change fields of a visible memory (superseded ones included); False when none."""
        check_id(memory_id, "memory_id")
        values = memory_patch_to_values(changes, self._ctx.codec.encode)
        if "content" in values:
            values["search_tsv"] = tsvector_text(values["content"], scope.entity_id)
        m = self._ctx.layout.memories
        where = and_(memory_visible(m, scope, include_superseded=True), m.c.id == memory_id)
        if not values:
            return _read(select(func.count()).select_from(m).where(where),
                         lambda result: _count(result) > 0)
        return _read(update(m).where(where).values(**values),
                     lambda result: int(result.rowcount) > 0)

    def plan_delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
        wanted = _some_ids(memory_ids, "memory_id")
        if not wanted:
            return _value(0)
        m = self._ctx.layout.memories
        where = and_(memory_visible(m, scope, include_superseded=True), ids_any(m.c.id, wanted))
        return _read(delete(m).where(where), lambda result: int(result.rowcount))

    def plan_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool, explain: bool = False,
    ) -> Plan[list[Hit]]:
        return search_plan(self._ctx, self._ctx.layout.memories, scope, text, vector, limit,
                           to_memory, include_superseded=include_superseded, explain=explain)

    # whole entity

    def plan_forget(self, entity_id: str) -> Plan[int]:
        """Delete every row of the entity in one statement; counts turns and memories."""
        check_id(entity_id)
        t, m, o = self._ctx.layout.turns, self._ctx.layout.memories, self._ctx.layout.outbox
        gone_o = delete(o).where(o.c.entity_id == entity_id).returning(o.c.turn_id).cte("memori_fo")
        gone_t = delete(t).where(t.c.entity_id == entity_id).returning(t.c.id).cte("memori_ft")
        gone_m = delete(m).where(m.c.entity_id == entity_id).returning(m.c.id).cte("memori_fm")
        total = (
            select(func.count()).select_from(gone_t).scalar_subquery()
            + select(func.count()).select_from(gone_m).scalar_subquery()
        )
        return _read(select(total).add_cte(gone_o), _count)

    def plan_raw_count(self, entity_id: str) -> Plan[int]:
        """Rows of the entity in every table (the search column lives in the rows themselves)."""
        check_id(entity_id)
        layout = self._ctx.layout
        parts = [
            select(func.count()).select_from(tb).where(tb.c.entity_id == entity_id)
            .scalar_subquery()
            for tb in (layout.turns, layout.memories, layout.outbox)
        ]
        return _read(select(parts[0] + parts[1] + parts[2]), _count)

    def plan_page(
        self, table: Table, entity_id: str, after: tuple[float, str] | None, size: int
    ) -> Plan[list[RowLike]]:
        """One page of the entity's rows on (created_at, id), oldest first."""
        turns = table is self._ctx.layout.turns
        cols = turn_columns(table) if turns else memory_columns(table)
        stmt = select(*cols).where(table.c.entity_id == entity_id)
        if after is not None:
            created, item = after
            stmt = stmt.where(or_(
                table.c.created_at > created,
                and_(table.c.created_at == created, table.c.id.collate("C") > item),
            ))
        stmt = stmt.order_by(table.c.created_at, table.c.id.collate("C")).limit(size)
        return _read(stmt, lambda result: list(result.mappings().all()))

    def plan_entity_ids(self) -> Plan[list[str]]:
        """Every entity with turns or memories (crosses entities: admin only)."""
        t, m = self._ctx.layout.turns, self._ctx.layout.memories
        u = union(select(t.c.entity_id), select(m.c.entity_id)).subquery()
        return _read(select(u.c.entity_id).order_by(u.c.entity_id.collate("C")),
                     lambda result: [str(r[0]) for r in result])

    def plan_entity_counts(self) -> Plan[list[EntityCounts]]:
        """Every entity's counts (crosses entities: admin only)."""
        layout = self._ctx.layout
        return entity_counts_plan(layout.turns, layout.memories, Exec)

    # outbox (crosses entities)

    def plan_outbox_pending(self, limit: int) -> Plan[list[Turn]]:
        t, o = self._ctx.layout.turns, self._ctx.layout.outbox
        stmt = (
            select(*turn_columns(t))
            .select_from(o.join(t, and_(t.c.entity_id == o.c.entity_id, t.c.id == o.c.turn_id)))
            .where(t.c.extract_state == PENDING)
            .order_by(t.c.created_at, o.c.entity_id.collate("C"), o.c.turn_id.collate("C"))
            .limit(limit)
        )
        return _read(stmt, _turns)

    def plan_outbox_parked(self, limit: int) -> Plan[list[Turn]]:
        """Parked turns, oldest first: the outbox table holds pending work only, so this
        reads the turns table (no index on ``extract_state``: a scan on a big table)."""
        t = self._ctx.layout.turns
        stmt = (
            select(*turn_columns(t))
            .where(t.c.extract_state == PARKED)
            .order_by(t.c.created_at, t.c.entity_id.collate("C"), t.c.id.collate("C"))
            .limit(limit)
        )
        return _read(stmt, _turns)

    def plan_outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]:
        """Set the extraction state; a pending turn gets an outbox row, others lose theirs."""
        check_id(entity_id)
        wanted = _some_ids(turn_ids, "turn_id")
        return self._mark(entity_id, wanted, ExtractState(state), attempts, error)

    def _mark(
        self, entity_id: str, wanted: list[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]:
        if not wanted:
            return
        t, o = self._ctx.layout.turns, self._ctx.layout.outbox
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

    def plan_admin_counts(self) -> Plan[dict[str, int]]:
        t, m, o = self._ctx.layout.turns, self._ctx.layout.memories, self._ctx.layout.outbox
        u = union(select(t.c.entity_id), select(m.c.entity_id)).subquery()
        stmt = select(
            select(func.count()).select_from(t).scalar_subquery().label("turns"),
            select(func.count()).select_from(m).scalar_subquery().label("memories"),
            select(func.count()).select_from(u).scalar_subquery().label("entities"),
            select(func.count()).select_from(o).scalar_subquery().label("outbox_pending"),
            select(func.count()).select_from(t).where(t.c.extract_state == PARKED)
            .scalar_subquery().label("outbox_parked"),
        )
        return _read(stmt, lambda result: {k: int(v) for k, v in result.mappings().one().items()})
