"""The ``MemoryStore`` primitives as sans-I/O operations (see :mod:`calls`).

Every per-entity operation filters on the entity (and the rest of the scope);
point ids, derived from ``(entity_id, item id)``, are only used together with
that filter or after a filtered read has shown the point is in scope.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qdrant_client import models

from memori.backends.qdrant import filters as f
from memori.backends.qdrant.calls import (
    PAGE,
    Call,
    Op,
    count,
    delete_matching,
    scroll_all,
    scroll_page,
    upsert,
)
from memori.backends.qdrant.payload import (
    DENSE,
    TEXT,
    check_vector,
    memory_from_point,
    memory_payload,
    point_id,
    to_point,
    turn_from_point,
)
from memori.backends.qdrant.schema import Features, Layout
from memori.backends.qdrant.search import search
from memori.backends.qdrant.sparse import document_vector
from memori.core.ids import check_id
from memori.core.models import MEMORY_PATCH_FIELDS, ExtractState, Hit, Memory, Scope, Turn
from memori.core.protocols import Record
from memori.core.records import from_record

_BY_TIME = models.OrderBy(key=f.CREATED_AT, direction=models.Direction.ASC)
_BY_TIME_DESC = models.OrderBy(key=f.CREATED_AT, direction=models.Direction.DESC)


def _turn(record: models.Record | models.ScoredPoint) -> Turn:
    return turn_from_point(record.payload or {}, record.vector)


def _memory(record: models.Record | models.ScoredPoint) -> Memory:
    return memory_from_point(record.payload or {}, record.vector)


def _check_limit(limit: int | None, name: str = "limit") -> None:
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ValueError(f"{name} must be a non-negative int")


def _points(layout: Layout, items: Sequence[Turn | Memory]) -> list[models.PointStruct]:
    for item in items:
        check_id(item.id, "turn_id" if isinstance(item, Turn) else "memory_id")
    return [to_point(item, layout.vector_dim, layout.avg_len) for item in items]


def _turn_order(t: Turn) -> tuple[float, str]:
    return t.created_at, t.id


def _memory_order(m: Memory) -> tuple[float, str]:
    return m.created_at, m.id


# turns

def append_turns(layout: Layout, turns: Sequence[Turn]) -> Op[None]:
    for turn in turns:
        if not isinstance(turn, Turn):
            raise TypeError(f"append_turns takes Turn objects, got {type(turn).__name__}")
    yield from upsert(layout.turns, _points(layout, turns))


def list_turns(layout: Layout, scope: Scope, limit: int | None) -> Op[list[Turn]]:
    _check_limit(limit)
    flt = f.turns(scope)
    if limit is None:
        records = yield from scroll_all(layout.turns, flt, vectors=layout.dense)
        return sorted((_turn(r) for r in records), key=_turn_order)
    if limit == 0:
        return []
    page, _ = yield from scroll_page(
        layout.turns, flt, limit=limit, order_by=_BY_TIME_DESC, vectors=layout.dense
    )
    return sorted((_turn(r) for r in page), key=_turn_order)


def count_turns(layout: Layout, scope: Scope) -> Op[int]:
    return (yield from count(layout.turns, f.turns(scope)))


def delete_turns(layout: Layout, scope: Scope, turn_ids: Sequence[str] | None) -> Op[int]:
    flt = f.turns(scope)
    if turn_ids is not None:
        ids = f.item_ids(turn_ids, "turn_id")
        if not ids:
            return 0
        flt = f.with_ids(flt, ids)
    return (yield from delete_matching(layout.turns, flt))


def search_turns(
    layout: Layout, features: Features, scope: Scope, text: str | None,
    vector: Sequence[float] | None, limit: int,
) -> Op[list[Hit]]:
    return (yield from search(
        layout.turns, f.turns(scope), turn_from_point, text=text, vector=vector, limit=limit,
        vector_dim=layout.vector_dim, idf_per_entity=features.idf_per_entity,
    ))


# memories

def put_memories(layout: Layout, memories: Sequence[Memory]) -> Op[None]:
    for memory in memories:
        if not isinstance(memory, Memory):
            raise TypeError(f"put_memories takes Memory objects, got {type(memory).__name__}")
    yield from upsert(layout.memories, _points(layout, memories))


def _find_memory(layout: Layout, scope: Scope, memory_id: str) -> Op[Memory | None]:
    check_id(memory_id, "memory_id")
    flt = f.with_ids(f.memories(scope, include_superseded=True), [memory_id])
    page, _ = yield from scroll_page(layout.memories, flt, limit=1, vectors=layout.dense)
    return _memory(page[0]) if page else None


def get_memory(layout: Layout, scope: Scope, memory_id: str) -> Op[Memory | None]:
    return (yield from _find_memory(layout, scope, memory_id))


def list_memories(
    layout: Layout, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
) -> Op[list[Memory]]:
    _check_limit(limit)
    _check_limit(offset, "offset")
    flt = f.memories(scope, include_superseded=include_superseded)
    if limit is None:
        records = yield from scroll_all(layout.memories, flt, vectors=layout.dense)
        found = sorted((_memory(r) for r in records), key=_memory_order)
        return found[offset:]
    if limit == 0:
        return []
    page, _ = yield from scroll_page(
        layout.memories, flt, limit=offset + limit, order_by=_BY_TIME, vectors=layout.dense
    )
    found = sorted((_memory(r) for r in page), key=_memory_order)
    return found[offset : offset + limit]


def count_memories(layout: Layout, scope: Scope, include_superseded: bool) -> Op[int]:
    flt = f.memories(scope, include_superseded=include_superseded)
    return (yield from count(layout.memories, flt))


def _patched(memory: Memory, changes: Mapping[str, Any]) -> Memory:
    unknown = set(changes) - MEMORY_PATCH_FIELDS
    if unknown:
        raise ValueError(f"cannot change memory fields: {', '.join(sorted(unknown))}")
    values = dict(changes)
    if values.get("embedding") is not None:
        values["embedding"] = tuple(float(x) for x in values["embedding"])
    if "source_turn_ids" in values:
        values["source_turn_ids"] = tuple(values["source_turn_ids"] or ())
    if "metadata" in values:
        values["metadata"] = dict(values["metadata"] or {})
    return dataclasses.replace(memory, **values)


def update_memory(
    layout: Layout, scope: Scope, memory_id: str, changes: Mapping[str, Any],
) -> Op[bool]:
    current = yield from _find_memory(layout, scope, memory_id)
    if current is None:
        return False
    new = _patched(current, changes)
    if new.embedding is not None and layout.vector_dim is not None:
        check_vector(new.embedding, layout.vector_dim)
    flt = f.with_ids(f.memories(scope, include_superseded=True), [memory_id])
    yield Call("overwrite_payload", {
        "collection_name": layout.memories, "payload": memory_payload(new, layout.vector_dim),
        "points": models.FilterSelector(filter=flt), "wait": True,
    })
    if "content" in changes or "embedding" in changes:
        yield from _replace_vectors(layout, new)
    return True


def _replace_vectors(layout: Layout, memory: Memory) -> Op[None]:
    pid = point_id(memory.entity_id, memory.id)
    present: dict[str, Any] = {}
    absent: list[str] = []
    indices, values = document_vector(memory.content, avg_len=layout.avg_len)
    if indices:
        present[TEXT] = models.SparseVector(indices=indices, values=values)
    else:
        absent.append(TEXT)
    if layout.vector_dim is not None:
        if memory.embedding is not None:
            present[DENSE] = check_vector(memory.embedding, layout.vector_dim)
        else:
            absent.append(DENSE)
    if present:
        yield Call("update_vectors", {
            "collection_name": layout.memories, "wait": True,
            "points": [models.PointVectors(id=pid, vector=present)],
        })
    if absent:
        yield Call("delete_vectors", {
            "collection_name": layout.memories, "vectors": absent, "wait": True,
            "points": models.PointIdsList(points=[pid]),
        })


def delete_memories(layout: Layout, scope: Scope, memory_ids: Sequence[str]) -> Op[int]:
    ids = f.item_ids(memory_ids, "memory_id")
    if not ids:
        return 0
    flt = f.with_ids(f.memories(scope, include_superseded=True), ids)
    return (yield from delete_matching(layout.memories, flt))


def search_memories(
    layout: Layout, features: Features, scope: Scope, text: str | None,
    vector: Sequence[float] | None, limit: int, include_superseded: bool,
) -> Op[list[Hit]]:
    flt = f.memories(scope, include_superseded=include_superseded)
    return (yield from search(
        layout.memories, flt, memory_from_point, text=text, vector=vector, limit=limit,
        vector_dim=layout.vector_dim, idf_per_entity=features.idf_per_entity,
    ))


# whole entity

def forget(layout: Layout, entity_id: str) -> Op[int]:
    flt = f.entity(entity_id)
    removed = yield from delete_matching(layout.turns, flt)
    removed += yield from delete_matching(layout.memories, flt)
    return removed


def raw_count(layout: Layout, entity_id: str) -> Op[int]:
    flt = f.entity(entity_id)
    return (yield from count(layout.turns, flt)) + (yield from count(layout.memories, flt))


def scan(layout: Layout, entity_id: str | None) -> Op[list[Turn | Memory]]:
    """Every turn then every memory of the entity (or of every entity), oldest first."""
    flt = None if entity_id is None else f.entity(entity_id)
    turns = yield from scroll_all(layout.turns, flt, vectors=layout.dense)
    memories = yield from scroll_all(layout.memories, flt, vectors=layout.dense)
    items: list[Turn | Memory] = sorted(map(_turn, turns), key=_scan_order)
    items += sorted(map(_memory, memories), key=_scan_order)
    return items


def _scan_order(item: Turn | Memory) -> tuple[str, float, str]:
    return item.entity_id, item.created_at, item.id


def import_records(layout: Layout, records: Iterable[Record]) -> Op[int]:
    turns: list[Turn] = []
    memories: list[Memory] = []
    for record in records:
        item = from_record(record)
        (turns if isinstance(item, Turn) else memories).append(item)  # type: ignore[arg-type]
    yield from upsert(layout.turns, _points(layout, turns))
    yield from upsert(layout.memories, _points(layout, memories))
    return len(turns) + len(memories)


# outbox and admin (cross entities on purpose)

def outbox_pending(layout: Layout, limit: int) -> Op[list[Turn]]:
    _check_limit(limit)
    if limit == 0:
        return []
    page, _ = yield from scroll_page(
        layout.turns, f.pending(), limit=limit, order_by=_BY_TIME, vectors=layout.dense
    )
    return sorted((_turn(r) for r in page), key=lambda t: (t.created_at, t.entity_id, t.id))


def outbox_parked(layout: Layout, limit: int) -> Op[list[Turn]]:
    """Parked turns, oldest first (the extract_state keyword index narrows the scroll)."""
    _check_limit(limit)
    if limit == 0:
        return []
    page, _ = yield from scroll_page(
        layout.turns, f.parked(), limit=limit, order_by=_BY_TIME, vectors=layout.dense
    )
    return sorted((_turn(r) for r in page), key=lambda t: (t.created_at, t.entity_id, t.id))


def outbox_mark(
    layout: Layout, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
    attempts: int | None, error: str | None,
) -> Op[None]:
    check_id(entity_id)
    ids = f.item_ids(turn_ids, "turn_id")
    changes: dict[str, Any] = {f.EXTRACT_STATE: ExtractState(state).value}
    if attempts is not None:
        changes["extract_attempts"] = int(attempts)
    if error is not None:
        changes["extract_error"] = error
    for start in range(0, len(ids), PAGE):
        flt = f.with_ids(f.entity(entity_id), ids[start : start + PAGE])
        yield Call("set_payload", {
            "collection_name": layout.turns, "payload": changes,
            "points": models.FilterSelector(filter=flt), "wait": True,
        })


ENTITY_FACET_LIMIT = 1_000_000
"""Most distinct entities ``admin_stats`` counts (a facet over the tenant index)."""


def _entities(collection: str) -> Op[set[str]]:
    response: models.FacetResponse = yield Call("facet", {
        "collection_name": collection, "key": f.ENTITY, "limit": ENTITY_FACET_LIMIT,
        "exact": True,
    })
    return {str(hit.value) for hit in response.hits}


def admin_stats(layout: Layout) -> Op[dict[str, Any]]:
    turns = yield from count(layout.turns, None)
    memories = yield from count(layout.memories, None)
    pending = yield from count(layout.turns, f.pending())
    parked = yield from count(layout.turns, f.parked())
    entities = (yield from _entities(layout.turns)) | (yield from _entities(layout.memories))
    return {
        "backend": "qdrant",
        "entities": len(entities),
        "turns": turns,
        "memories": memories,
        "outbox_pending": pending,
        "outbox_parked": parked,
        "collections": [layout.turns, layout.memories, layout.meta],
        "vector_dim": layout.vector_dim,
    }
