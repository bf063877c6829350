"""Qdrant filters for scopes and ids. Ids are data: they only ever travel as ``MatchValue``.

Every filter a per-entity operation sends starts from :func:`entity`, so no
query of entity E can match a point of another entity whatever else it holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client import models

from memori.core.ids import check_id
from memori.core.models import ExtractState, Scope

ENTITY = "entity_id"
PROCESS = "process_id"
SESSION = "session_id"
ITEM = "item_id"
ALL_PERSONAS = "all_personas"
"""Memories: True when visible to every persona (no process_id, or shared)."""
CURRENT = "is_current"
"""Memories: True while not superseded."""
EXTRACT_STATE = "extract_state"
CREATED_AT = "created_at"


def _eq(key: str, value: str | bool) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def entity(entity_id: str) -> models.Filter:
    """Points of one entity (validated here too: a bad id never reaches a query)."""
    return models.Filter(must=[_eq(ENTITY, check_id(entity_id))])


def turns(scope: Scope) -> models.Filter:
    """Turns of ``(entity, process, session)``; a None process matches only None."""
    must: list[models.Condition] = [_eq(ENTITY, check_id(scope.entity_id))]
    if scope.process_id is None:
        must.append(models.IsNullCondition(is_null=models.PayloadField(key=PROCESS)))
    else:
        must.append(_eq(PROCESS, scope.process_id))
    if scope.session_id is not None:
        must.append(_eq(SESSION, scope.session_id))
    return models.Filter(must=must)


def memories(scope: Scope, *, include_superseded: bool = False) -> models.Filter:
    """Memories visible to ``scope``: the entity's, of its persona or for all personas."""
    personas: list[models.Condition] = [_eq(ALL_PERSONAS, True)]
    if scope.process_id is not None:
        personas.append(_eq(PROCESS, scope.process_id))
    must: list[models.Condition] = [
        _eq(ENTITY, check_id(scope.entity_id)),
        models.Filter(should=personas),
    ]
    if not include_superseded:
        must.append(_eq(CURRENT, True))
    return models.Filter(must=must)


def with_ids(base: models.Filter, ids: Sequence[str]) -> models.Filter:
    """``base`` narrowed to the given (validated) item ids, each a ``MatchValue``."""
    if not ids:
        raise ValueError("with_ids needs at least one id")
    any_id: list[models.Condition] = [_eq(ITEM, i) for i in ids]
    must = base.must
    kept: list[models.Condition] = (
        [] if must is None else list(must) if isinstance(must, list) else [must]
    )
    return models.Filter(must=[*kept, models.Filter(should=any_id)])


def pending() -> models.Filter:
    """Turns waiting for extraction, across entities (the outbox)."""
    return models.Filter(must=[_eq(EXTRACT_STATE, ExtractState.PENDING.value)])


def parked() -> models.Filter:
    """Turns whose extraction was given up, across entities (the operator's view)."""
    return models.Filter(must=[_eq(EXTRACT_STATE, ExtractState.PARKED.value)])
