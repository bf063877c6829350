"""Every entity's counts in a few aggregate queries over the shared SQL layout
(``memori.core.summaries.SupportsEntityCounts``): the same counts a scan gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, case, func, select, union

from memori.core.plan_store import Plan
from memori.core.summaries import EntityCounts, merged


def entity_counts_plan(turns: Table, memories: Table,
                       step: Callable[[Any], Any] = lambda stmt: stmt) -> Plan[list[EntityCounts]]:
    """Counts per entity: memories (current, superseded, pinned, last change), turns
    (count, latest, distinct sessions) and distinct named personas of both; four
    statements, each yielded as ``step(statement)`` (a backend's step type)."""
    m, t = memories, turns
    memory_rows = yield step(
        select(m.c.entity_id,
               func.count().filter(m.c.superseded_by.is_(None)),
               func.count().filter(m.c.superseded_by.is_not(None)),
               func.sum(case((m.c.pinned, 1), else_=0)),
               func.max(case((m.c.updated_at > m.c.created_at, m.c.updated_at),
                             else_=m.c.created_at)))
        .group_by(m.c.entity_id))
    per_memory = {str(e): (int(current), int(superseded), int(pinned or 0), last)
                  for e, current, superseded, pinned, last in memory_rows}
    turn_rows = yield step(select(t.c.entity_id, func.count(), func.max(t.c.created_at))
                           .group_by(t.c.entity_id))
    per_turn = {str(e): (int(n), last) for e, n, last in turn_rows}
    pairs = select(t.c.entity_id, t.c.process_id, t.c.session_id).distinct().subquery()
    session_rows = yield step(select(pairs.c.entity_id, func.count())
                              .group_by(pairs.c.entity_id))
    sessions = {str(e): int(n) for e, n in session_rows}
    named = union(
        select(t.c.entity_id, t.c.process_id).where(t.c.process_id.is_not(None)),
        select(m.c.entity_id, m.c.process_id).where(m.c.process_id.is_not(None)),
    ).subquery()
    persona_rows = yield step(select(named.c.entity_id, func.count())
                              .group_by(named.c.entity_id))
    personas = {str(e): int(n) for e, n in persona_rows}
    return merged(per_memory, per_turn, sessions, personas)
