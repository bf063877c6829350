"""The visibility rules of the security contract as SQLAlchemy Core expressions.

Ids are bound parameters, compared whole and case-sensitively; the entity
condition comes first in every filter so the indexes leading with entity_id apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_, true

from memori.core.errors import InvalidIdError
from memori.core.models import Scope


def turn_scope(
    turns: Table, scope: Scope, *, entity: ColumnElement[str] | None = None
) -> ColumnElement[bool]:
    """Turns read per (entity, persona, session): persona None matches only None.

    ``entity`` replaces the entity_id column in the comparison (a backend may wrap
    it to steer its query planner); the comparison itself never changes.
    """
    return turns_where(turns, scope.entity_id, scope.process_id, scope.session_id, entity=entity)


def turns_where(
    turns: Table, entity_id: Any, process_id: Any, session_id: Any, *,
    entity: ColumnElement[str] | None = None,
) -> ColumnElement[bool]:
    """:func:`turn_scope` over values or bound parameters (None: no persona, any session)."""
    column = turns.c.entity_id if entity is None else entity
    conds: list[ColumnElement[bool]] = [
        column == entity_id,
        turns.c.process_id.is_(None) if process_id is None else turns.c.process_id == process_id,
    ]
    if session_id is not None:
        conds.append(turns.c.session_id == session_id)
    return and_(*conds)


def memory_visible(
    memories: Table, scope: Scope, *, include_superseded: bool = True,
    entity: ColumnElement[str] | None = None,
) -> ColumnElement[bool]:
    """Memories of the entity that belong to the persona, to no persona, or are shared.

    ``entity`` replaces the entity_id column in the comparison, as in :func:`turn_scope`.
    """
    return memories_where(memories, scope.entity_id, scope.process_id,
                          include_superseded=include_superseded, entity=entity)


def memories_where(
    memories: Table, entity_id: Any, process_id: Any, *, include_superseded: bool,
    entity: ColumnElement[str] | None = None,
) -> ColumnElement[bool]:
    """:func:`memory_visible` over values or bound parameters (None: no persona)."""
    column = memories.c.entity_id if entity is None else entity
    everyone = or_(memories.c.process_id.is_(None), memories.c.shared == true())
    persona = everyone if process_id is None else or_(everyone, memories.c.process_id == process_id)
    conds: list[ColumnElement[bool]] = [column == entity_id, persona]
    if not include_superseded:
        conds.append(memories.c.superseded_by.is_(None))
    return and_(*conds)


def ids_in(column: ColumnElement[str], ids: Sequence[str]) -> ColumnElement[bool]:
    """``column IN (...)`` over string ids (an empty list matches nothing; non-str raises)."""
    for i in ids:
        if type(i) is not str:
            raise InvalidIdError(f"ids must be str, got {type(i).__name__}")
    return column.in_(list(ids))
