"""Scope filters: the only place where ids enter a MongoDB query.

Every id is validated with :func:`memori.core.check_id` (a list of them with
``store_rules.check_item_ids``) before it is placed in a filter, so it is always
a ``str`` (never a dict, list or bytes). A ``str`` value in a plain equality
``{"entity_id": value}`` can never be read as an operator, so an id such as
``{"$ne": ""}`` (as text), ``$where`` or ``.*`` is compared as data. Filters are
flat (plain equality and ``$in`` only, no ``$or``/``$and``), which every query
planner maps onto the compound indexes that lead with ``entity_id``;
:func:`vector_search_filter` renders the same filter in the long ``$eq`` form
that ``$vectorSearch`` requires.

Two derived fields written by :mod:`.documents` keep every rule an equality:
``persona`` is a turn's process id, or ``""`` for none; ``audience`` is a
memory's process id, or ``""`` when every persona may see it (no persona, or
shared). ``""`` is never a valid id, so it cannot collide with one.
"""

from __future__ import annotations

from typing import Any

from memori.core import Scope, check_id

Filter = dict[str, Any]
EVERYONE = ""
"""The ``persona``/``audience`` value meaning "no persona" (never a valid id)."""


def entity_filter(entity_id: str) -> Filter:
    """Everything stored for one entity."""
    return {"entity_id": check_id(entity_id, "entity_id")}


def ids_in(ids: list[str]) -> Filter:
    """``{"id": {"$in": ids}}`` over ids checked by ``store_rules.check_item_ids``."""
    return {"id": {"$in": ids}}


def item_id(value: str, name: str) -> Filter:
    """``{"id": value}`` for one validated id."""
    return {"id": check_id(value, name)}


def turn_scope(scope: Scope) -> Filter:
    """Turns of ``(entity, persona, session)``: persona matched exactly, None only None."""
    where = entity_filter(scope.entity_id)
    persona = scope.process_id
    where["persona"] = EVERYONE if persona is None else check_id(persona, "process_id")
    if scope.session_id is not None:
        where["session_id"] = check_id(scope.session_id, "session_id")
    return where


def memory_scope(scope: Scope, *, include_superseded: bool = True) -> Filter:
    """Memories visible to the scope: the persona's own, persona-less and shared ones."""
    where = entity_filter(scope.entity_id)
    if scope.process_id is None:
        where["audience"] = EVERYONE
    else:
        where["audience"] = {"$in": [EVERYONE, check_id(scope.process_id, "process_id")]}
    if not include_superseded:
        where["current"] = True
    return where


def both(*filters: Filter) -> Filter:
    """The conjunction of flat filters (``$and`` only if two of them test the same field)."""
    merged: Filter = {}
    for f in filters:
        if set(f) & set(merged):
            return {"$and": list(filters)}
        merged.update(f)
    return merged


def vector_search_filter(where: Filter) -> Filter:
    """The filter with each equality spelled ``{"$eq": value}``, as ``$vectorSearch`` wants."""
    out: Filter = {}
    for key, value in where.items():
        if key in ("$and", "$or"):
            out[key] = [vector_search_filter(v) for v in value]
        elif isinstance(value, dict):
            out[key] = value
        else:
            out[key] = {"$eq": value}
    return out
