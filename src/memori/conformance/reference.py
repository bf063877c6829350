"""The in-memory reference store: the plain model every backend is compared with.

It implements the whole ``MemoryStore`` protocol with dicts, one lock and full
scans, so each rule of the contract reads as one line of Python. Several
``InMemoryStore`` handles may share one ``InMemoryDatabase``, as several
connections share a database file. Nothing is persisted.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from memori.conformance.scoring import bm25, query_words, rrf, vector_score, words
from memori.core.async_bridge import ThreadedAsyncMixin
from memori.core.capabilities import Capability
from memori.core.errors import (
    ConfigurationError,
    DimensionMismatchError,
    StoreError,
    StoreUnavailableError,
)
from memori.core.ids import check_id
from memori.core.models import MEMORY_PATCH_FIELDS, ExtractState, Hit, Memory, Scope, Turn
from memori.core.protocols import Record
from memori.core.records import from_record, to_record

Key = tuple[str, str]
"""``(entity_id, item_id)``: turns and memories are keyed per entity."""


class InMemoryDatabase:
    """The state behind any number of ``InMemoryStore`` handles (one "database")."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.turns: dict[Key, Turn] = {}
        self.memories: dict[Key, Memory] = {}
        self.schema_version = 0


def _snapshot(value: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy: the caller may mutate its dict after writing or reading."""
    return copy.deepcopy(dict(value))


Item = TypeVar("Item", Turn, Memory)


def _copy(item: Item) -> Item:
    """A copy whose metadata the caller may mutate freely."""
    return replace(item, metadata=_snapshot(item.metadata))


def _ranking(scores: Mapping[str, float], created: Mapping[str, float]) -> list[str]:
    """Ids by score, best first; ties go to the older item, then the smaller id."""
    return sorted(scores, key=lambda k: (-scores[k], created[k], k))


def item_ids(ids: Sequence[str], name: str) -> list[str]:
    """Validate a list of turn or memory ids (a bare str or a non-str id is refused)."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise TypeError(f"{name}s must be a sequence of str")
    return [check_id(i, name) for i in ids]


class InMemoryStore(ThreadedAsyncMixin):
    """A complete, thread-safe ``MemoryStore`` kept in process memory.

    ``setup()`` must be called before use (as for every backend) and ``close()``
    ends the handle, not the shared database.
    """

    name = "memory"

    def __init__(
        self, database: InMemoryDatabase | None = None, *, vector_dim: int | None = None
    ) -> None:
        if vector_dim is not None and (type(vector_dim) is not int or vector_dim < 1):
            raise ConfigurationError("vector_dim must be a positive int or None")
        self.db = database if database is not None else InMemoryDatabase()
        self.vector_dim = vector_dim
        self._ready = False
        self._closed = False

    def __repr__(self) -> str:
        return f"InMemoryStore(vector_dim={self.vector_dim})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.TEXT_SEARCH, Capability.ASYNC}
        if self.vector_dim is not None:
            caps |= {Capability.VECTOR_SEARCH, Capability.HYBRID_FUSION}
        return frozenset(caps)

    # lifecycle

    def setup(self) -> None:
        self._check_open()
        with self.db.lock:
            self.db.schema_version = max(self.db.schema_version, 1)
        self._ready = True

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError("this store handle is closed")

    def _check_ready(self) -> None:
        self._check_open()
        if not self._ready:
            raise StoreError("call setup() before using the store")

    # the rules, one predicate each (the conformance tests break them on purpose)

    def _entity_matches(self, stored: str, wanted: str) -> bool:
        return stored == wanted

    def _persona_visible(self, memory: Memory, scope: Scope) -> bool:
        if memory.process_id is None or memory.shared:
            return True
        return scope.process_id is not None and memory.process_id == scope.process_id

    def _memory_visible(self, memory: Memory, scope: Scope, include_superseded: bool) -> bool:
        return (
            self._entity_matches(memory.entity_id, scope.entity_id)
            and self._persona_visible(memory, scope)
            and (include_superseded or memory.superseded_by is None)
        )

    def _turn_in_scope(self, turn: Turn, scope: Scope) -> bool:
        return (
            self._entity_matches(turn.entity_id, scope.entity_id)
            and turn.process_id == scope.process_id
            and (scope.session_id is None or turn.session_id == scope.session_id)
        )

    # vectors

    def _stored_vector(self, vector: Sequence[float] | None) -> tuple[float, ...] | None:
        if vector is None or self.vector_dim is None:
            return None
        return self._query_vector(vector)

    def _query_vector(self, vector: Sequence[float]) -> tuple[float, ...]:
        if self.vector_dim is None:
            raise ConfigurationError("this store was opened without vectors (vector_dim=None)")
        if len(vector) != self.vector_dim:
            raise DimensionMismatchError(
                f"expected {self.vector_dim} vector components, got {len(vector)}"
            )
        return tuple(float(x) for x in vector)

    def _clean_turn(self, turn: Turn) -> Turn:
        check_id(turn.id, "turn_id")
        return replace(
            turn, metadata=_snapshot(turn.metadata),
            extract_state=ExtractState(turn.extract_state),
            embedding=self._stored_vector(turn.embedding),
        )

    def _clean_memory(self, memory: Memory) -> Memory:
        check_id(memory.id, "memory_id")
        return replace(
            memory, metadata=_snapshot(memory.metadata),
            source_turn_ids=tuple(memory.source_turn_ids),
            embedding=self._stored_vector(memory.embedding),
        )


    # turns

    def append_turns(self, turns: Sequence[Turn]) -> None:
        self._check_ready()
        clean = [self._clean_turn(t) for t in turns]
        with self.db.lock:
            for t in clean:
                self.db.turns[(t.entity_id, t.id)] = t

    def _scoped_turns(self, scope: Scope) -> list[Turn]:
        with self.db.lock:
            found = [t for t in self.db.turns.values() if self._turn_in_scope(t, scope)]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        self._check_ready()
        found = self._scoped_turns(scope)
        if limit is not None:
            if limit < 0:
                raise ValueError("limit must not be negative")
            found = found[max(0, len(found) - limit):] if limit else []
        return [_copy(t) for t in found]

    def count_turns(self, scope: Scope) -> int:
        self._check_ready()
        return len(self._scoped_turns(scope))

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        self._check_ready()
        wanted = None if turn_ids is None else set(item_ids(turn_ids, "turn_id"))
        with self.db.lock:
            doomed = [
                key for key, t in self.db.turns.items()
                if self._turn_in_scope(t, scope) and (wanted is None or t.id in wanted)
            ]
            for key in doomed:
                del self.db.turns[key]
        return len(doomed)

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        self._check_ready()
        found = self._scoped_turns(scope)
        return [Hit(_copy(i), s, sig) for i, s, sig in self._rank(found, text, vector, limit)]

    # memories

    def put_memories(self, memories: Sequence[Memory]) -> None:
        self._check_ready()
        clean = [self._clean_memory(m) for m in memories]
        with self.db.lock:
            for m in clean:
                self.db.memories[(m.entity_id, m.id)] = m

    def _visible_memories(self, scope: Scope, include_superseded: bool) -> list[Memory]:
        with self.db.lock:
            found = [
                m for m in self.db.memories.values()
                if self._memory_visible(m, scope, include_superseded)
            ]
        return sorted(found, key=lambda m: (m.created_at, m.id))

    def _find_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        for m in self._visible_memories(scope, include_superseded=True):
            if m.id == memory_id:
                return m
        return None

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        self._check_ready()
        found = self._find_memory(scope, check_id(memory_id, "memory_id"))
        return None if found is None else _copy(found)

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        self._check_ready()
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("limit and offset must not be negative")
        found = self._visible_memories(scope, include_superseded)
        end = None if limit is None else offset + limit
        return [_copy(m) for m in found[offset:end]]

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        self._check_ready()
        return len(self._visible_memories(scope, include_superseded))

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        self._check_ready()
        unknown = set(changes) - MEMORY_PATCH_FIELDS
        if unknown:
            raise ValueError(f"update_memory cannot change {sorted(unknown)}")
        check_id(memory_id, "memory_id")
        with self.db.lock:
            current = self._find_memory(scope, memory_id)
            if current is None:
                return False
            updated = self._clean_memory(replace(current, **dict(changes)))
            self.db.memories[(current.entity_id, current.id)] = updated
        return True

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        self._check_ready()
        wanted = set(item_ids(memory_ids, "memory_id"))
        with self.db.lock:
            doomed = [
                (m.entity_id, m.id)
                for m in self._visible_memories(scope, include_superseded=True)
                if m.id in wanted
            ]
            for key in doomed:
                del self.db.memories[key]
        return len(doomed)

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        self._check_ready()
        found = self._visible_memories(scope, include_superseded)
        return [Hit(_copy(i), s, sig) for i, s, sig in self._rank(found, text, vector, limit)]

    # ranking

    def _rank(
        self, items: Sequence[Item], text: str | None,
        vector: Sequence[float] | None, limit: int,
    ) -> list[tuple[Item, float, dict[str, float]]]:
        if text is None and vector is None:
            raise ValueError("search needs text, a vector, or both")
        if limit < 0:
            raise ValueError("limit must not be negative")
        by_signal: dict[str, dict[str, float]] = {}
        if text is not None:
            query = query_words(text)
            docs = [words(i.content) for i in items]
            by_signal["text"] = {
                i.id: s for i, s in zip(items, bm25(query, docs), strict=True) if s > 0.0
            }
        if vector is not None:
            q = self._query_vector(vector)
            by_signal["vector"] = {
                i.id: vector_score(q, i.embedding) for i in items if i.embedding is not None
            }
        created = {i.id: i.created_at for i in items}
        if len(by_signal) == 1:
            scores = next(iter(by_signal.values()))
        else:
            fused = rrf([_ranking(s, created) for s in by_signal.values()])
            scores = {str(k): v for k, v in fused.items()}
        by_id = {i.id: i for i in items}
        return [
            (by_id[k], scores[k], {n: s[k] for n, s in by_signal.items() if k in s})
            for k in _ranking(scores, created)[:limit]
        ]

    # whole entity

    def _entity_keys(self, entity_id: str) -> tuple[list[Key], list[Key]]:
        with self.db.lock:
            turns = [k for k in self.db.turns if self._entity_matches(k[0], entity_id)]
            memories = [k for k in self.db.memories if self._entity_matches(k[0], entity_id)]
        return turns, memories

    def forget(self, entity_id: str) -> int:
        self._check_ready()
        check_id(entity_id, "entity_id")
        with self.db.lock:
            turns, memories = self._entity_keys(entity_id)
            for key in turns:
                del self.db.turns[key]
            for key in memories:
                del self.db.memories[key]
        return len(turns) + len(memories)

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        self._check_ready()
        with self.db.lock:
            if entity_id is None:
                turns, memories = list(self.db.turns.values()), list(self.db.memories.values())
            else:
                tk, mk = self._entity_keys(check_id(entity_id, "entity_id"))
                turns = [self.db.turns[k] for k in tk]
                memories = [self.db.memories[k] for k in mk]
        rows: list[tuple[str, int, float, str, Turn | Memory]] = [
            (t.entity_id, 0, t.created_at, t.id, _copy(t)) for t in turns]
        rows += [(m.entity_id, 1, m.created_at, m.id, _copy(m)) for m in memories]
        rows.sort(key=lambda r: r[:4])
        return iter([r[4] for r in rows])

    def export(self, entity_id: str) -> Iterator[Record]:
        self._check_ready()
        check_id(entity_id, "entity_id")
        with self.db.lock:
            turns, memories = self._entity_keys(entity_id)
            return iter(self._records(
                [self.db.turns[k] for k in turns], [self.db.memories[k] for k in memories]
            ))

    @staticmethod
    def _records(turns: Iterable[Turn], memories: Iterable[Memory]) -> list[Record]:
        out = [to_record(t) for t in sorted(turns, key=lambda t: (t.created_at, t.id))]
        out += [to_record(m) for m in sorted(memories, key=lambda m: (m.created_at, m.id))]
        return out

    def import_records(self, records: Iterable[Record]) -> int:
        self._check_ready()
        try:
            items = [from_record(r) for r in records]
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed record: {type(e).__name__}: {e}") from e
        turns = [self._clean_turn(i) for i in items if isinstance(i, Turn)]
        memories = [self._clean_memory(i) for i in items if isinstance(i, Memory)]
        with self.db.lock:
            for t in turns:
                self.db.turns[(t.entity_id, t.id)] = t
            for m in memories:
                self.db.memories[(m.entity_id, m.id)] = m
        return len(items)

    def raw_count(self, entity_id: str) -> int:
        self._check_ready()
        check_id(entity_id, "entity_id")
        with self.db.lock:
            return sum(1 for k in self.db.turns if k[0] == entity_id) + sum(
                1 for k in self.db.memories if k[0] == entity_id
            )

    # augmentation outbox

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        return self._in_state(ExtractState.PENDING, limit)

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        return self._in_state(ExtractState.PARKED, limit)

    def _in_state(self, state: ExtractState, limit: int) -> list[Turn]:
        """Turns of every entity in ``state``, oldest first (the outbox's order)."""
        self._check_ready()
        if limit < 0:
            raise ValueError("limit must not be negative")
        with self.db.lock:
            found = [t for t in self.db.turns.values() if t.extract_state is state]
        found.sort(key=lambda t: (t.created_at, t.entity_id, t.id))
        return [_copy(t) for t in found[:limit]]

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        self._check_ready()
        check_id(entity_id, "entity_id")
        wanted = item_ids(turn_ids, "turn_id")
        new_state = ExtractState(state)
        with self.db.lock:
            for turn_id in wanted:
                key = (entity_id, turn_id)
                turn = self.db.turns.get(key)
                if turn is None:
                    continue
                changes: dict[str, Any] = {"extract_state": new_state}
                if attempts is not None:
                    changes["extract_attempts"] = attempts
                if error is not None:
                    changes["extract_error"] = error
                self.db.turns[key] = replace(turn, **changes)

    # admin (crosses entities, by name)

    def admin_stats(self) -> dict[str, Any]:
        self._check_ready()
        with self.db.lock:
            entities = {k[0] for k in self.db.turns} | {k[0] for k in self.db.memories}
            states = [t.extract_state for t in self.db.turns.values()]
            return {
                "backend": self.name,
                "entities": len(entities),
                "turns": len(self.db.turns),
                "memories": len(self.db.memories),
                "outbox_pending": states.count(ExtractState.PENDING),
                "outbox_parked": states.count(ExtractState.PARKED),
            }

    def admin_export_all(self) -> Iterator[Record]:
        self._check_ready()
        with self.db.lock:
            turns = list(self.db.turns.values())
            memories = list(self.db.memories.values())
        return iter(self._records(turns, memories))


_named: dict[str, InMemoryDatabase] = {}
_named_lock = threading.Lock()


def open_store(
    target: str | InMemoryDatabase | None = None, *, vector_dim: int | None = None, **_: Any
) -> InMemoryStore:
    """Open a handle: on ``target`` (a database), on a new private database (None or
    ``"memory://"``), or on the process-wide database named by ``"memory://name"``."""
    if target is None or isinstance(target, InMemoryDatabase):
        return InMemoryStore(target, vector_dim=vector_dim)
    if not target.startswith("memory://"):
        raise ConfigurationError("an in-memory store URL looks like memory:// or memory://name")
    name = target[len("memory://"):]
    if not name:
        return InMemoryStore(vector_dim=vector_dim)
    with _named_lock:
        database = _named.setdefault(name, InMemoryDatabase())
    return InMemoryStore(database, vector_dim=vector_dim)
