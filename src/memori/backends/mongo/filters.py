"""Scope filters: the only place where ids enter a MongoDB query.

Every id is validated with :func:`memori.core.check_id` (a ``str``, never a dict,
list or bytes) and placed under an explicit ``$eq`` or ``$in``, so an id such as
``{"$ne": ""}`` (as text), ``$where`` or ``.*`` is compared as plain data. The
same filters serve ``find``, ``aggregate`` and ``$vectorSearch`` (which accepts
only the long ``$eq`` form and no null tests, hence the boolean helper fields
``personal``, ``open`` and ``current`` written by :mod:`.documents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memori.core import Scope, check_id

Filter = dict[str, Any]


def eq(field: str, value: Any) -> Filter:
    """``{field: {"$eq": value}}``: equality that no value can turn into an operator."""
    return {field: {"$eq": value}}


def entity_filter(entity_id: str) -> Filter:
    """Everything stored for one entity."""
    return eq("entity_id", check_id(entity_id, "entity_id"))


def item_ids(ids: Sequence[str], name: str) -> list[str]:
    """Validate item ids (turn or memory ids) before they reach a query."""
    if isinstance(ids, str | bytes):
        raise TypeError(f"{name} must be a sequence of str, not a single {type(ids).__name__}")
    return [check_id(i, name) for i in ids]


def ids_in(ids: Sequence[str], name: str) -> Filter:
    """``{"id": {"$in": [...]}}`` over validated ids."""
    return {"id": {"$in": item_ids(ids, name)}}


def turn_scope(scope: Scope) -> Filter:
    """Turns of ``(entity, persona, session)``: persona matched exactly, None only None."""
    clauses = [entity_filter(scope.entity_id)]
    if scope.process_id is None:
        clauses.append(eq("personal", False))
    else:
        clauses.append(eq("process_id", check_id(scope.process_id, "process_id")))
    if scope.session_id is not None:
        clauses.append(eq("session_id", check_id(scope.session_id, "session_id")))
    return {"$and": clauses}


def memory_scope(scope: Scope, *, include_superseded: bool = True) -> Filter:
    """Memories visible to the scope: the persona's own, persona-less and shared ones."""
    clauses = [entity_filter(scope.entity_id)]
    if scope.process_id is None:
        clauses.append(eq("open", True))
    else:
        persona = check_id(scope.process_id, "process_id")
        clauses.append({"$or": [eq("open", True), eq("process_id", persona)]})
    if not include_superseded:
        clauses.append(eq("current", True))
    return {"$and": clauses}


def both(*filters: Filter) -> Filter:
    """The conjunction of filters (kept as ``$and`` so no key can overwrite another)."""
    return {"$and": list(filters)}
