"""``JsonlStore``: memori's required store primitives over entity files.

``StoreBase`` derives the rest (counts, export and import, the admin view, the
async twins) from the primitives implemented here.
Every method that takes a scope opens exactly one file, the entity's, so a
read can never see another entity's data. The rules every store shares come from
memori: visibility (``Turn.visible_to``, ``Memory.visible_to``), argument checks
(``memori.core.store_rules``) and scoring (``memori.core.scores``: BM25 squashed
into [0, 1], ``(1 + cos) / 2``, rank fusion).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from memori.core import (
    Capability,
    ConfigurationError,
    ExtractState,
    Hit,
    Memory,
    Scope,
    StoreBase,
    StoreError,
    Turn,
    check_id,
)
from memori.core.protocols import Record
from memori.core.records import from_record, to_record
from memori.core.scores import (
    bm25_relevance,
    cosine,
    cosine_score,
    query_words,
    relevance_score,
    rrf_fuse,
    words,
)
from memori.core.store_rules import check_item_ids, check_patch, check_store_limit, check_vector
from memori_jsonl.files import EntityData, EntityFiles


def _memory_in(memory: Memory, scope: Scope, include_superseded: bool) -> bool:
    return memory.visible_to(scope) and (include_superseded or memory.is_current)


def _order(scores: Mapping[str, float], created: Mapping[str, float]) -> list[str]:
    return sorted(scores, key=lambda k: (-scores[k], created[k], k))


class JsonlStore(StoreBase):
    """A directory of JSON files, one per entity (see the package README)."""

    name = "jsonl"

    def __init__(self, root: Path, vector_dim: int | None = None) -> None:
        self.root = root
        self.vector_dim = vector_dim
        self.files = EntityFiles(root)
        self._ready = False

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.root)!r}, vector_dim={self.vector_dim})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.TEXT_SEARCH, Capability.ASYNC, Capability.MULTI_PROCESS}
        if self.vector_dim is not None:
            caps |= {Capability.VECTOR_SEARCH}
        return frozenset(caps)

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._ready = True

    def close(self) -> None:
        self._ready = False

    def _check(self) -> None:
        if not self._ready:
            raise StoreError("call setup() before using the store")

    # conversions
    def _vector(self, vector: Sequence[float] | None) -> list[float] | None:
        """A stored item's vector (dropped when the store keeps none)."""
        if vector is None or self.vector_dim is None:
            return None
        return check_vector(vector, self.vector_dim).tolist()

    def _turns(self, data: EntityData) -> list[Turn]:
        items = [from_record(r) for r in data["turns"].values()]
        return sorted((t for t in items if isinstance(t, Turn)), key=lambda t: (t.created_at, t.id))

    def _memories(self, data: EntityData) -> list[Memory]:
        items = [from_record(r) for r in data["memories"].values()]
        return sorted((m for m in items if isinstance(m, Memory)),
                      key=lambda m: (m.created_at, m.id))

    def _store_record(self, item: Turn | Memory) -> Record:
        check_id(item.id, "turn_id" if isinstance(item, Turn) else "memory_id")
        record = to_record(item)
        record["embedding"] = self._vector(item.embedding)
        return record

    def _write(self, items: Sequence[Turn | Memory]) -> None:
        by_entity: dict[str, list[Record]] = {}
        for item in items:
            by_entity.setdefault(item.entity_id, []).append(self._store_record(item))
        for entity_id, records in by_entity.items():
            def change(data: EntityData, records: list[Record] = records) -> None:
                for r in records:
                    data["turns" if r["type"] == "turn" else "memories"][r["id"]] = r
            self.files.update(entity_id, change)

    # turns
    def append_turns(self, turns: Sequence[Turn]) -> None:
        self._check()
        self._write(list(turns))

    def _scoped_turns(self, scope: Scope) -> list[Turn]:
        return [t for t in self._turns(self.files.read(scope.entity_id)) if t.visible_to(scope)]

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        self._check()
        check_store_limit(limit)
        found = self._scoped_turns(scope)
        if limit is not None:
            found = found[max(0, len(found) - limit):] if limit else []
        return found

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        self._check()
        wanted = check_item_ids(turn_ids, "turn_id")

        def change(data: EntityData) -> int:
            doomed = [t.id for t in self._turns(data)
                      if t.visible_to(scope) and (wanted is None or t.id in wanted)]
            for i in doomed:
                del data["turns"][i]
            return len(doomed)

        removed: int = self.files.update(scope.entity_id, change)
        return removed

    def search_turns(self, scope: Scope, *, text: str | None = None,
                     vector: Sequence[float] | None = None, limit: int = 10) -> list[Hit]:
        self._check()
        return self._rank(self._scoped_turns(scope), text, vector, limit)

    # memories
    def put_memories(self, memories: Sequence[Memory]) -> None:
        self._check()
        self._write(list(memories))

    def _visible(self, scope: Scope, include_superseded: bool) -> list[Memory]:
        data = self.files.read(scope.entity_id)
        return [m for m in self._memories(data) if _memory_in(m, scope, include_superseded)]

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        self._check()
        check_id(memory_id, "memory_id")
        return next((m for m in self._visible(scope, True) if m.id == memory_id), None)

    def list_memories(self, scope: Scope, *, include_superseded: bool = False,
                      limit: int | None = None, offset: int = 0) -> list[Memory]:
        self._check()
        check_store_limit(limit)
        check_store_limit(offset, "offset")
        found = self._visible(scope, include_superseded)
        return found[offset: None if limit is None else offset + limit]

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        self._check()
        patch = check_patch(changes, self.vector_dim)
        check_id(memory_id, "memory_id")

        def change(data: EntityData) -> bool:
            current = next((m for m in self._memories(data)
                            if m.id == memory_id and _memory_in(m, scope, True)), None)
            if current is None:
                return False
            data["memories"][memory_id] = self._store_record(replace(current, **patch))
            return True

        done: bool = self.files.update(scope.entity_id, change)
        return done

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        self._check()
        wanted = set(check_item_ids(memory_ids, "memory_id") or ())

        def change(data: EntityData) -> int:
            doomed = [m.id for m in self._memories(data)
                      if m.id in wanted and _memory_in(m, scope, True)]
            for i in doomed:
                del data["memories"][i]
            return len(doomed)

        removed: int = self.files.update(scope.entity_id, change)
        return removed

    def search_memories(self, scope: Scope, *, text: str | None = None,
                        vector: Sequence[float] | None = None, limit: int = 10,
                        include_superseded: bool = False) -> list[Hit]:
        self._check()
        return self._rank(self._visible(scope, include_superseded), text, vector, limit)

    def _rank(self, items: Sequence[Turn | Memory], text: str | None,
              vector: Sequence[float] | None, limit: int) -> list[Hit]:
        if text is None and vector is None:
            raise ValueError("search needs text, a vector, or both")
        check_store_limit(limit)
        signals: dict[str, dict[str, float]] = {}
        if text is not None:
            relevance = bm25_relevance(query_words(text), [words(i.content) for i in items])
            signals["text"] = {i.id: relevance_score(r)
                               for i, r in zip(items, relevance, strict=True) if r > 0}
        if vector is not None:
            q = check_vector(vector, self.vector_dim).tolist()
            signals["vector"] = {i.id: cosine_score(cosine(q, i.embedding))
                                 for i in items if i.embedding is not None}
        created = {i.id: i.created_at for i in items}
        by_id = {i.id: i for i in items}
        if len(signals) == 1:
            final = next(iter(signals.values()))
            return [Hit(by_id[k], final[k], {n: s[k] for n, s in signals.items() if k in s})
                    for k in _order(final, created)[:limit]]
        fused = rrf_fuse({n: [(k, by_id[k], s[k]) for k in _order(s, created)]
                          for n, s in signals.items()},
                         limit=limit, tiebreak=lambda i: (i.created_at, i.id))
        return [Hit(f.item, f.score, f.signals) for f in fused]

    # whole entity
    def forget(self, entity_id: str) -> int:
        self._check()
        data = self.files.read(check_id(entity_id, "entity_id"))
        self.files.remove(entity_id)
        return len(data["turns"]) + len(data["memories"])

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        self._check()
        entities = ([self.files.read(check_id(entity_id, "entity_id"))] if entity_id is not None
                    else self.files.all_entities())
        items: list[Turn | Memory] = []
        for data in entities:
            items += [*self._turns(data), *self._memories(data)]
        return iter(items)

    # outbox
    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        """Pending turns of every entity, oldest first (reads every entity file)."""
        self._check()
        check_store_limit(limit)
        found = [t for data in self.files.all_entities() for t in self._turns(data)
                 if t.extract_state is ExtractState.PENDING]
        found.sort(key=lambda t: (t.created_at, t.entity_id, t.id))
        return found[:limit]

    def outbox_mark(self, entity_id: str, turn_ids: Sequence[str], state: ExtractState, *,
                    attempts: int | None = None, error: str | None = None) -> None:
        self._check()
        check_id(entity_id, "entity_id")
        wanted = check_item_ids(turn_ids, "turn_id") or []
        new_state = ExtractState(state)

        def change(data: EntityData) -> None:
            for turn_id in wanted:
                record = data["turns"].get(turn_id)
                if record is None:
                    continue
                record["extract_state"] = new_state.value
                if attempts is not None:
                    record["extract_attempts"] = attempts
                if error is not None:
                    record["extract_error"] = error

        self.files.update(entity_id, change)


def open_store(target: str, *, vector_dim: int | None = None, **options: Any) -> JsonlStore:
    """``jsonl:///absolute/dir`` or ``jsonl://relative/dir``."""
    if options.pop("migrate", False) not in (True, False):
        raise ConfigurationError("migrate must be a bool")
    if options:
        raise ConfigurationError(f"unknown options for the jsonl backend: {sorted(options)}")
    parts = urlsplit(target)
    path = (parts.netloc + parts.path) if parts.netloc else parts.path
    if not path:
        raise ConfigurationError("jsonl URLs name a directory: jsonl:///path/to/dir")
    return JsonlStore(Path(path), vector_dim=vector_dim)
