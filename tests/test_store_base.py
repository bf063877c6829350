"""The required contract is complete: a store with only the primitives passes the suite.

``PrimitiveStore`` below implements exactly the abstract methods of ``StoreBase``
(no counts, export, import, admin view, parked listing, ``raw_count`` or async
twins): ``StoreBase`` derives those, and the whole shipped conformance suite runs
against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import replace
from typing import Any

import pytest

from memori.conformance import StoreConformance
from memori.conformance.scoring import bm25, query_words, rrf, vector_score, words
from memori.core import (
    MEMORY_PATCH_FIELDS,
    Capability,
    ConfigurationError,
    DimensionMismatchError,
    ExtractState,
    Hit,
    Memory,
    MemoryStore,
    Scope,
    StoreBase,
    StorePrimitives,
    SupportsRawCount,
    Turn,
    check_id,
)
from memori.core.records import from_record, to_record

Data = dict[str, dict[str, dict[str, Any]]]
"""``{entity_id: {"turns": {id: record}, "memories": {id: record}}}`` (records copy)."""


class PrimitiveStore(StoreBase):
    name = "primitive"

    def __init__(self, data: Data, lock: threading.RLock, vector_dim: int | None = None,
                 **options: Any) -> None:
        self.data, self.lock, self.vector_dim = data, lock, vector_dim

    @property
    def capabilities(self) -> frozenset[Capability]:
        vector = {Capability.VECTOR_SEARCH} if self.vector_dim is not None else set()
        return frozenset({Capability.TEXT_SEARCH, Capability.ASYNC, *vector})

    def setup(self) -> None: ...
    def close(self) -> None: ...

    def _vector(self, v: Sequence[float] | None, query: bool = False) -> list[float] | None:
        if v is None or (self.vector_dim is None and not query):
            return None
        if self.vector_dim is None:
            raise ConfigurationError("no vectors in this store")
        if len(v) != self.vector_dim:
            raise DimensionMismatchError(f"expected {self.vector_dim} components")
        return [float(x) for x in v]

    def _items(self, entity_id: str, kind: str) -> list[Any]:
        with self.lock:
            records = deepcopy(list(self.data.get(check_id(entity_id), {}).get(kind, {}).values()))
        return sorted(map(from_record, records), key=lambda i: (i.created_at, i.id))

    def _put(self, items: Sequence[Turn | Memory], kind: str) -> None:
        records = []
        for item in items:
            check_id(item.entity_id)
            check_id(item.id, "item id")
            records.append({**deepcopy(to_record(item)), "embedding": self._vector(item.embedding)})
        with self.lock:
            for r in records:
                entity = self.data.setdefault(r["entity_id"], {"turns": {}, "memories": {}})
                entity[kind][r["id"]] = r

    def _drop(self, entity_id: str, kind: str, ids: Sequence[str]) -> int:
        with self.lock:
            stored = self.data.get(entity_id, {}).get(kind, {})
            return sum(stored.pop(i, None) is not None for i in ids)

    @staticmethod
    def _check_ids(ids: Sequence[str]) -> list[str]:
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of str")
        return [check_id(i, "item id") for i in ids]

    def append_turns(self, turns: Sequence[Turn]) -> None:
        self._put(turns, "turns")

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        found = [t for t in self._items(scope.entity_id, "turns")
                 if t.process_id == scope.process_id
                 and scope.session_id in (None, t.session_id)]
        return found if limit is None else found[max(0, len(found) - limit):] if limit else []

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        wanted = None if turn_ids is None else set(self._check_ids(turn_ids))
        doomed = [t.id for t in self.list_turns(scope) if wanted is None or t.id in wanted]
        return self._drop(scope.entity_id, "turns", doomed)

    def search_turns(self, scope: Scope, *, text: str | None = None,
                     vector: Sequence[float] | None = None, limit: int = 10) -> list[Hit]:
        return self._rank(self.list_turns(scope), text, vector, limit)

    def put_memories(self, memories: Sequence[Memory]) -> None:
        self._put(memories, "memories")

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        check_id(memory_id, "memory_id")
        found = self.list_memories(scope, include_superseded=True)
        return next((m for m in found if m.id == memory_id), None)

    def list_memories(self, scope: Scope, *, include_superseded: bool = False,
                      limit: int | None = None, offset: int = 0) -> list[Memory]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("limit and offset must not be negative")
        found = [m for m in self._items(scope.entity_id, "memories")
                 if (m.process_id is None or m.shared or m.process_id == scope.process_id)
                 and (include_superseded or m.superseded_by is None)]
        return found[offset:None if limit is None else offset + limit]

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        if set(changes) - MEMORY_PATCH_FIELDS:
            raise ValueError(f"cannot change {sorted(set(changes) - MEMORY_PATCH_FIELDS)}")
        with self.lock:
            current = self.get_memory(scope, memory_id)
            if current is not None:
                self.put_memories([replace(current, **dict(changes))])
            return current is not None

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        wanted = set(self._check_ids(memory_ids))
        found = self.list_memories(scope, include_superseded=True)
        return self._drop(scope.entity_id, "memories", [m.id for m in found if m.id in wanted])

    def search_memories(self, scope: Scope, *, text: str | None = None,
                        vector: Sequence[float] | None = None, limit: int = 10,
                        include_superseded: bool = False) -> list[Hit]:
        found = self.list_memories(scope, include_superseded=include_superseded)
        return self._rank(found, text, vector, limit)

    def _rank(self, items: Sequence[Turn | Memory], text: str | None,
              vector: Sequence[float] | None, limit: int) -> list[Hit]:
        if (text is None and vector is None) or limit < 0:
            raise ValueError("search needs text or a vector, and a limit >= 0")
        signals: dict[str, dict[str, float]] = {}
        if text is not None:
            scores = bm25(query_words(text), [words(i.content) for i in items])
            signals["text"] = {i.id: s for i, s in zip(items, scores, strict=True) if s > 0}
        if vector is not None:
            q = self._vector(vector, query=True) or []
            signals["vector"] = {i.id: vector_score(q, i.embedding)
                                 for i in items if i.embedding is not None}
        pos = {i.id: n for n, i in enumerate(items)}

        def order(s: Mapping[str, float]) -> list[str]:
            return sorted(s, key=lambda k: (-s[k], pos[k]))

        final = next(iter(signals.values())) if len(signals) == 1 else {
            str(k): v for k, v in rrf([order(s) for s in signals.values()]).items()}
        return [Hit(items[pos[k]], final[k], {n: s[k] for n, s in signals.items() if k in s})
                for k in order(final)[:limit]]

    def forget(self, entity_id: str) -> int:
        with self.lock:
            gone = self.data.pop(check_id(entity_id), {})
        return sum(len(v) for v in gone.values())

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        with self.lock:
            entities = sorted(self.data) if entity_id is None else [check_id(entity_id)]
        return iter([i for e in entities
                     for i in (*self._items(e, "turns"), *self._items(e, "memories"))])

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        if limit < 0:
            raise ValueError("limit must not be negative")
        found = [t for t in self.scan() if isinstance(t, Turn)
                 and t.extract_state is ExtractState.PENDING]
        return sorted(found, key=lambda t: (t.created_at, t.entity_id, t.id))[:limit]

    def outbox_mark(self, entity_id: str, turn_ids: Sequence[str], state: ExtractState, *,
                    attempts: int | None = None, error: str | None = None) -> None:
        check_id(entity_id)
        with self.lock:
            for turn_id in self._check_ids(turn_ids):
                record = self.data.get(entity_id, {}).get("turns", {}).get(turn_id)
                if record is not None:
                    record["extract_state"] = ExtractState(state).value
                    if attempts is not None:
                        record["extract_attempts"] = attempts
                    if error is not None:
                        record["extract_error"] = error


def test_the_store_implements_only_the_primitives() -> None:
    store = PrimitiveStore({}, threading.RLock(), vector_dim=None)
    derived = {"count_turns", "count_memories", "export", "import_records", "outbox_parked",
               "admin_stats", "admin_export_all", "recent_turns", "acount_turns", "aforget"}
    assert not derived & set(vars(PrimitiveStore)), "the test store must not override these"
    assert not isinstance(store, SupportsRawCount)
    assert isinstance(store, StorePrimitives) and isinstance(store, MemoryStore)


def test_a_store_missing_a_primitive_cannot_be_opened() -> None:
    class Incomplete(PrimitiveStore):
        scan = StoreBase.scan  # type: ignore[assignment]

    with pytest.raises(TypeError, match="scan"):
        Incomplete({}, threading.RLock())


class TestPrimitiveStore(StoreConformance):
    """Every handle of a test shares one dict, as connections share a database."""

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> tuple[Data, threading.RLock]:
        return {}, threading.RLock()

    @pytest.fixture
    def make_store(self, lifespan: tuple[Data, threading.RLock]) -> Callable[..., MemoryStore]:
        def factory(**options: Any) -> MemoryStore:
            return PrimitiveStore(*lifespan, **options)

        return factory
