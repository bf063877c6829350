"""``StoreBase``: the store methods derived from the required primitives.

A backend subclasses ``StoreBase`` and implements the primitives of
:class:`memori.core.protocols.StorePrimitives`; everything else memori calls
(counts, export and import, the admin view, ``recent_turns`` and the async twins)
is derived here from them. A backend overrides a derived method only to make it
faster, never to change what it returns. Standard library only.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from memori.core.async_bridge import ThreadedAsyncMixin
from memori.core.capabilities import Capability
from memori.core.expiry import derive_sweep_expired
from memori.core.forget_scope import derive_forget_scope
from memori.core.ids import check_id
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.protocols import Record
from memori.core.records import from_record, to_record
from memori.core.store_rules import check_store_limit


class StoreBase(ThreadedAsyncMixin, ABC):
    """Implement the abstract methods (the required primitives); the rest is derived.

    The async twins run the sync methods in a worker thread (``ThreadedAsyncMixin``);
    a backend with a native async driver overrides them.
    """

    name: str
    vector_dim: int | None

    # required primitives (see StorePrimitives for the rules)

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[Capability]: ...

    @abstractmethod
    def setup(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def append_turns(self, turns: Sequence[Turn]) -> None: ...

    @abstractmethod
    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]: ...

    @abstractmethod
    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int: ...

    @abstractmethod
    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]: ...

    @abstractmethod
    def put_memories(self, memories: Sequence[Memory]) -> None: ...

    @abstractmethod
    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None: ...

    @abstractmethod
    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]: ...

    @abstractmethod
    def update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool: ...

    @abstractmethod
    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int: ...

    @abstractmethod
    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]: ...

    @abstractmethod
    def forget(self, entity_id: str) -> int: ...

    @abstractmethod
    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]: ...

    @abstractmethod
    def outbox_pending(self, limit: int = 100) -> list[Turn]: ...

    @abstractmethod
    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None: ...

    # derived: counts and reads

    def count_turns(self, scope: Scope) -> int:
        """``len(list_turns(scope))``: override with a COUNT when the store has one."""
        return len(self.list_turns(scope))

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return len(self.list_memories(scope, include_superseded=include_superseded))

    def recent_turns(self, scope: Scope, *, limit: int) -> list[Turn]:
        """The latest ``limit`` turns, oldest first, vectors left out."""
        turns = self.list_turns(scope, limit=limit)
        return [t if t.embedding is None else replace(t, embedding=None) for t in turns]

    # derived: erasing one persona or one session (see memori.core.forget_scope)

    def forget_scope(
        self, entity_id: str, *, process_id: str | None = None, session_id: str | None = None,
    ) -> int:
        """Erase one persona or one session of the entity (list + delete by ids)."""
        return derive_forget_scope(self, entity_id, process_id=process_id,
                                   session_id=session_id)

    # derived: removing expired memories (see memori.core.expiry)

    def sweep_expired(self, at: float) -> int:
        """Delete every entity's memories whose ``expires_at`` is at or before ``at``
        (scan + delete by ids); returns how many went."""
        return derive_sweep_expired(self, at)

    async def asweep_expired(self, at: float) -> int:
        return await asyncio.to_thread(self.sweep_expired, at)

    # derived: whole entity, outbox and admin (from scan)

    def export(self, entity_id: str) -> Iterator[Record]:
        check_id(entity_id, "entity_id")
        return map(to_record, self.scan(entity_id))

    def import_records(self, records: Iterable[Record]) -> int:
        """Insert or replace the records' items; a malformed record raises ``ValueError``
        before anything is written."""
        items = [from_record(r) for r in records]
        turns = [i for i in items if isinstance(i, Turn)]
        memories = [i for i in items if isinstance(i, Memory)]
        if turns:
            self.append_turns(turns)
        if memories:
            self.put_memories(memories)
        return len(items)

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        """Parked turns, oldest first, across entities (reads every item: override
        with an index when parked turns are listed often)."""
        check_store_limit(limit)
        parked = [i for i in self.scan() if isinstance(i, Turn)
                  and i.extract_state is ExtractState.PARKED]
        parked.sort(key=lambda t: (t.created_at, t.entity_id, t.id))
        return parked[:limit]

    def admin_stats(self) -> dict[str, Any]:
        """Counts across every entity (reads every item)."""
        entities: set[str] = set()
        counts = {"turns": 0, "memories": 0, "outbox_pending": 0, "outbox_parked": 0}
        for item in self.scan():
            entities.add(item.entity_id)
            if isinstance(item, Turn):
                counts["turns"] += 1
                if item.extract_state is ExtractState.PENDING:
                    counts["outbox_pending"] += 1
                elif item.extract_state is ExtractState.PARKED:
                    counts["outbox_parked"] += 1
            else:
                counts["memories"] += 1
        return {"backend": self.name, "entities": len(entities), **counts}

    def admin_export_all(self) -> Iterator[Record]:
        return map(to_record, self.scan())

