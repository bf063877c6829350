"""The Qdrant store's plans: every operation written once as qdrant-client calls.

The store (:mod:`~memori.backends.qdrant.store`) runs them on either client, see
:mod:`calls`. Every per-entity plan filters on the entity (and the rest of the
scope); point ids, derived from ``(entity_id, item id)``, are only used together
with that filter or after a filtered read has shown the point is in scope.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from qdrant_client import models

from memori.backends.qdrant import filters as f
from memori.backends.qdrant.calls import (
    PAGE,
    Call,
    count,
    delete_matching,
    scroll_all,
    scroll_page,
    upsert,
)
from memori.backends.qdrant.payload import (
    DENSE,
    TEXT,
    memory_from_point,
    memory_payload,
    point_id,
    to_point,
    turn_from_point,
)
from memori.backends.qdrant.schema import Features, Layout
from memori.backends.qdrant.search import Decode, search
from memori.backends.qdrant.sparse import document_vector
from memori.core.ids import check_id
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.plan_store import Plan, PlanStore
from memori.core.store_rules import check_item_ids, patch_memory

_BY_TIME = models.OrderBy(key=f.CREATED_AT, direction=models.Direction.ASC)
_BY_TIME_DESC = models.OrderBy(key=f.CREATED_AT, direction=models.Direction.DESC)
ENTITY_FACET_LIMIT = 1_000_000
"""Most distinct entities ``admin_stats`` counts (a facet over the tenant index)."""


def _turn(record: models.Record | models.ScoredPoint) -> Turn:
    return turn_from_point(record.payload or {}, record.vector)


def _memory(record: models.Record | models.ScoredPoint) -> Memory:
    return memory_from_point(record.payload or {}, record.vector)


def _by_time(item: Turn | Memory) -> tuple[float, str]:
    return item.created_at, item.id


def _by_entity(item: Turn | Memory) -> tuple[str, float, str]:
    return item.entity_id, item.created_at, item.id


class QdrantPlans(PlanStore):
    """The plans of a store keeping its items in ``_layout``'s collections."""

    _layout: Layout
    _features: Features | None

    @abstractmethod
    def _plan_setup(self) -> Plan[Features]: ...

    def _plan_features(self) -> Plan[Features]:
        """What setup detected (setting the store up first when it is not yet)."""
        if self._features is None:
            self._features = yield from self._plan_setup()
        return self._features

    def _points(self, items: Sequence[Turn | Memory], kind: type) -> list[models.PointStruct]:
        for item in items:
            if not isinstance(item, kind):
                raise TypeError(f"expected {kind.__name__} objects, got {type(item).__name__}")
            check_id(item.id, f"{kind.__name__.lower()}_id")
        return [to_point(item, self._layout.vector_dim, self._layout.avg_len) for item in items]

    def _search(
        self, collection: str, flt: models.Filter, decode: Decode, text: str | None,
        vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]:
        features = yield from self._plan_features()
        return (yield from search(
            collection, flt, decode, text=text, vector=vector, limit=limit,
            vector_dim=self._layout.vector_dim, idf_per_entity=features.idf_per_entity,
        ))

    # turns

    def plan_append_turns(self, turns: Sequence[Turn]) -> Plan[None]:
        yield from upsert(self._layout.turns, self._points(turns, Turn))

    def plan_list_turns(self, scope: Scope, limit: int | None) -> Plan[list[Turn]]:
        flt, layout = f.turns(scope), self._layout
        if limit == 0:
            return []
        if limit is None:
            records = yield from scroll_all(layout.turns, flt, vectors=layout.dense)
        else:
            records, _ = yield from scroll_page(
                layout.turns, flt, limit=limit, order_by=_BY_TIME_DESC, vectors=layout.dense
            )
        return sorted(map(_turn, records), key=_by_time)

    def plan_count_turns(self, scope: Scope) -> Plan[int]:
        return (yield from count(self._layout.turns, f.turns(scope)))

    def plan_delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
        flt = f.turns(scope)
        ids = check_item_ids(turn_ids, "turn_id")
        if ids is not None:
            if not ids:
                return 0
            flt = f.with_ids(flt, ids)
        return (yield from delete_matching(self._layout.turns, flt))

    def plan_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]:
        return (yield from self._search(
            self._layout.turns, f.turns(scope), turn_from_point, text, vector, limit))

    # memories

    def plan_put_memories(self, memories: Sequence[Memory]) -> Plan[None]:
        yield from upsert(self._layout.memories, self._points(memories, Memory))

    def plan_get_memory(self, scope: Scope, memory_id: str) -> Plan[Memory | None]:
        check_id(memory_id, "memory_id")
        flt = f.with_ids(f.memories(scope, include_superseded=True), [memory_id])
        layout = self._layout
        page, _ = yield from scroll_page(layout.memories, flt, limit=1, vectors=layout.dense)
        return _memory(page[0]) if page else None

    def plan_list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> Plan[list[Memory]]:
        flt, layout = f.memories(scope, include_superseded=include_superseded), self._layout
        if limit == 0:
            return []
        if limit is None:
            records = yield from scroll_all(layout.memories, flt, vectors=layout.dense)
        else:
            records, _ = yield from scroll_page(
                layout.memories, flt, limit=offset + limit, order_by=_BY_TIME,
                vectors=layout.dense,
            )
        found = sorted(map(_memory, records), key=_by_time)
        return found[offset:] if limit is None else found[offset : offset + limit]

    def plan_count_memories(self, scope: Scope, include_superseded: bool) -> Plan[int]:
        flt = f.memories(scope, include_superseded=include_superseded)
        return (yield from count(self._layout.memories, flt))

    def plan_update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> Plan[bool]:
        current = yield from self.plan_get_memory(scope, memory_id)
        if current is None:
            return False
        new = patch_memory(current, changes, self._layout.vector_dim)
        flt = f.with_ids(f.memories(scope, include_superseded=True), [memory_id])
        yield Call("overwrite_payload", {
            "collection_name": self._layout.memories, "wait": True,
            "payload": memory_payload(new, self._layout.vector_dim),
            "points": models.FilterSelector(filter=flt),
        })
        if "content" in changes or "embedding" in changes:
            yield from self._replace_vectors(new)
        return True

    def _replace_vectors(self, memory: Memory) -> Plan[None]:
        pid, layout = point_id(memory.entity_id, memory.id), self._layout
        present: dict[str, Any] = {}
        absent: list[str] = []
        indices, values = document_vector(memory.content, avg_len=layout.avg_len)
        if indices:
            present[TEXT] = models.SparseVector(indices=indices, values=values)
        else:
            absent.append(TEXT)
        if layout.vector_dim is not None:
            if memory.embedding is not None:
                present[DENSE] = list(memory.embedding)
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

    def plan_delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
        ids = check_item_ids(memory_ids, "memory_id")
        if not ids:
            return 0
        flt = f.with_ids(f.memories(scope, include_superseded=True), ids)
        return (yield from delete_matching(self._layout.memories, flt))

    def plan_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool,
    ) -> Plan[list[Hit]]:
        flt = f.memories(scope, include_superseded=include_superseded)
        return (yield from self._search(
            self._layout.memories, flt, memory_from_point, text, vector, limit))

    # whole entity

    def plan_forget(self, entity_id: str) -> Plan[int]:
        flt = f.entity(entity_id)
        removed = yield from delete_matching(self._layout.turns, flt)
        removed += yield from delete_matching(self._layout.memories, flt)
        return removed

    def plan_raw_count(self, entity_id: str) -> Plan[int]:
        flt, layout = f.entity(entity_id), self._layout
        return (yield from count(layout.turns, flt)) + (yield from count(layout.memories, flt))

    def plan_scan(self, entity_id: str | None) -> Plan[list[Turn | Memory]]:
        """Every turn then every memory of the entity (or of every entity), oldest first."""
        flt, layout = None if entity_id is None else f.entity(entity_id), self._layout
        turns = yield from scroll_all(layout.turns, flt, vectors=layout.dense)
        memories = yield from scroll_all(layout.memories, flt, vectors=layout.dense)
        items: list[Turn | Memory] = sorted(map(_turn, turns), key=_by_entity)
        return items + sorted(map(_memory, memories), key=_by_entity)

    # outbox and admin (cross entities on purpose)

    def plan_outbox_pending(self, limit: int) -> Plan[list[Turn]]:
        return (yield from self._outbox(f.pending(), limit))

    def plan_outbox_parked(self, limit: int) -> Plan[list[Turn]]:
        return (yield from self._outbox(f.parked(), limit))

    def _outbox(self, flt: models.Filter, limit: int) -> Plan[list[Turn]]:
        """Turns in one extract state, oldest first (its keyword index narrows the scroll)."""
        if limit == 0:
            return []
        page, _ = yield from scroll_page(
            self._layout.turns, flt, limit=limit, order_by=_BY_TIME, vectors=self._layout.dense
        )
        return sorted(map(_turn, page), key=lambda t: (t.created_at, t.entity_id, t.id))

    def plan_outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]:
        check_id(entity_id)
        ids = check_item_ids(turn_ids, "turn_id") or []
        changes: dict[str, Any] = {f.EXTRACT_STATE: ExtractState(state).value}
        if attempts is not None:
            changes["extract_attempts"] = int(attempts)
        if error is not None:
            changes["extract_error"] = error
        for start in range(0, len(ids), PAGE):
            flt = f.with_ids(f.entity(entity_id), ids[start : start + PAGE])
            yield Call("set_payload", {
                "collection_name": self._layout.turns, "payload": changes,
                "points": models.FilterSelector(filter=flt), "wait": True,
            })

    def _entities(self, collection: str) -> Plan[set[str]]:
        response: models.FacetResponse = yield Call("facet", {
            "collection_name": collection, "key": f.ENTITY, "limit": ENTITY_FACET_LIMIT,
            "exact": True,
        })
        return {str(hit.value) for hit in response.hits}

    def plan_admin_stats(self) -> Plan[dict[str, Any]]:
        layout = self._layout
        turns = yield from count(layout.turns, None)
        memories = yield from count(layout.memories, None)
        pending = yield from count(layout.turns, f.pending())
        parked = yield from count(layout.turns, f.parked())
        entities = (yield from self._entities(layout.turns)) | (
            yield from self._entities(layout.memories))
        return {
            "backend": "qdrant", "entities": len(entities), "turns": turns,
            "memories": memories, "outbox_pending": pending, "outbox_parked": parked,
            "collections": [layout.turns, layout.memories, layout.meta],
            "vector_dim": layout.vector_dim,
        }
