"""Managing memories: list, show, edit, delete, their history, and forgetting by grain.

``MemoryManagement`` is a mixin of :class:`memori.Memori`. Every call runs inside the
current attribution or the ``entity_id=`` / ``process_id=`` given (as ``remember`` and
``recall`` do) and sees what that scope sees: a persona its own memories, the
persona-less ones and the shared ones of its entity; never another entity's. A memory
the scope does not see is treated exactly as one that does not exist.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from memori.attribution import CURRENT
from memori.core import Memory, NotFoundError, Scope, check_id, forget_scope
from memori.core.inputs import check_limit, check_metadata, clean_text
from memori.core.models import now
from memori.memory_filters import MemoryFilter
from memori.pins import UNCHANGED, moment
from memori.pipeline.forgotten import grain_turn_ids, sweep_late_writes

if TYPE_CHECKING:
    from memori.core import MemoryStore
    from memori.llm import LLMRegistry
    from memori.pipeline.recorder import TurnRecorder
    from memori.pipeline.sweeper import Sweeper
    from memori.pipeline.write_path import WritePath


class MemoryManagement:
    """The management calls of ``Memori`` (see ``docs/managing.md``)."""

    if TYPE_CHECKING:
        store: MemoryStore
        pipeline: WritePath
        max_content_chars: int
        _recorder: TurnRecorder
        _llm: LLMRegistry | None
        _sweeper: Sweeper

        def _scope_for(self, entity_id: str | None, process_id: Any) -> Scope: ...
        def redact(self, text: str) -> str: ...
        def _embed_one(self, text: str) -> tuple[float, ...] | None: ...

    def list_memories(
        self, *, kind: str | None = None, metadata: dict[str, Any] | None = None,
        since: Any = None, until: Any = None, contains: str | None = None,
        include_superseded: bool = False, limit: int = 50, offset: int = 0,
        entity_id: str | None = None, process_id: Any = CURRENT,
        pinned: bool | None = None, include_expired: bool = False,
    ) -> list[Memory]:
        """The memories the scope sees, newest first, filtered and paged.

        ``metadata``: each given key must be equal; ``since`` / ``until``: bounds of
        ``created_at`` (``datetime`` or epoch seconds, inclusive); ``contains``: a
        case-insensitive substring of the text; ``pinned``: only pinned (True) or only
        unpinned (False) ones; expired memories only with ``include_expired``;
        ``limit`` (1..1000) and ``offset`` page.
        """
        check_limit(limit)
        if type(offset) is not int or offset < 0:
            raise ValueError(f"offset must be an int >= 0, got {offset!r}")
        if pinned is not None and not isinstance(pinned, bool):
            raise ValueError(f"pinned must be a bool or None, got {type(pinned).__name__}")
        wanted = MemoryFilter.of(kind=kind, metadata=metadata, since=since, until=until,
                                 contains=contains)
        scope = self._scope_for(entity_id, process_id)
        self.pipeline.wait_for(scope.entity_id)
        at = now()
        found = [m for m in self.store.list_memories(scope, include_superseded=include_superseded)
                 if wanted.matches(m) and (pinned is None or m.pinned is pinned)
                 and (include_expired or not m.expired(at))]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return found[offset:offset + limit]

    def get_memory(
        self, memory_id: str, *, entity_id: str | None = None, process_id: Any = CURRENT,
    ) -> Memory | None:
        """The memory, superseded or not, if the scope sees it; else None."""
        check_id(memory_id, "memory_id")
        return self.store.get_memory(self._scope_for(entity_id, process_id), memory_id)

    def update_memory(
        self, memory_id: str, *, content: str | None = None,
        metadata: dict[str, Any] | None = None, kind: str | None = None,
        shared: bool | None = None, entity_id: str | None = None, process_id: Any = CURRENT,
        pinned: bool | None = None, expires_at: Any = UNCHANGED,
    ) -> Memory:
        """Change a memory the scope sees and return it as stored.

        New ``content`` is redacted, embedded again and searched by its new words;
        ``metadata`` replaces the old one whole; ``pinned`` pins or unpins it;
        ``expires_at`` (``datetime`` or epoch seconds; None: never) sets when it expires.
        ``NotFoundError`` when the scope does not see the memory; ``ValueError`` naming a
        bad argument.
        """
        check_id(memory_id, "memory_id")
        changes = self._changes(content, metadata, kind, shared)
        if pinned is not None:
            if not isinstance(pinned, bool):
                raise ValueError(f"pinned must be a bool, got {type(pinned).__name__}")
            changes["pinned"] = pinned
        if expires_at is not UNCHANGED:
            changes["expires_at"] = moment(expires_at)
        scope = self._scope_for(entity_id, process_id)
        current = self.store.get_memory(scope, memory_id)
        if current is None:
            raise _not_found(memory_id, scope)
        if not changes:
            return current
        if "content" in changes:
            changes["embedding"] = self._embed_one(changes["content"])
        changes["updated_at"] = now()
        if not self.store.update_memory(scope, memory_id, changes):
            raise _not_found(memory_id, scope)  # deleted meanwhile
        self._memories_changed(scope.entity_id, changes.get("expires_at"))
        updated = self.store.get_memory(scope, memory_id)
        if updated is None:
            raise _not_found(memory_id, scope)
        return updated

    def _changes(
        self, content: Any, metadata: Any, kind: Any, shared: Any,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if content is not None:
            text = self.redact(clean_text(content, "content", max_chars=self.max_content_chars))
            if not text.strip():
                raise ValueError("content must not be empty")
            changes["content"] = text
        if metadata is not None:
            changes["metadata"] = check_metadata(metadata)
        if kind is not None:
            if not isinstance(kind, str) or not kind:
                raise ValueError("kind must be a non-empty str")
            changes["kind"] = kind
        if shared is not None:
            if not isinstance(shared, bool):
                raise ValueError(f"shared must be a bool, got {type(shared).__name__}")
            changes["shared"] = shared
        return changes

    def delete_memory(
        self, memory_id: str, *, entity_id: str | None = None, process_id: Any = CURRENT,
    ) -> bool:
        """Delete a memory the scope sees (its vector and text index entries with it);
        False when the scope sees no such memory."""
        check_id(memory_id, "memory_id")
        scope = self._scope_for(entity_id, process_id)
        deleted = int(self.store.delete_memories(scope, [memory_id])) > 0
        if deleted:
            self._memories_changed(scope.entity_id)
        return deleted

    def _memories_changed(self, entity_id: str, expires_at: float | None = None) -> None:
        """After a write of memories: expiry in use arms the background sweep, which
        runs if due; the LLM path reads the entity's pinned memories again."""
        if expires_at is not None:
            self._sweeper.arm()
        self._sweeper.poke()
        if self._llm is not None:
            self._llm.memories_changed(entity_id)

    def memory_history(
        self, memory_id: str, *, entity_id: str | None = None, process_id: Any = CURRENT,
    ) -> list[Memory]:
        """The memory's chain, oldest first: the memories it superseded (and theirs), itself,
        and those that superseded it, as far as the scope sees them. Each carries its
        ``created_at``, ``updated_at`` and ``superseded_by``. ``NotFoundError`` when the
        scope does not see the memory."""
        check_id(memory_id, "memory_id")
        scope = self._scope_for(entity_id, process_id)
        everything = {m.id: m for m in self.store.list_memories(scope, include_superseded=True)}
        start = everything.get(memory_id)
        if start is None:
            raise _not_found(memory_id, scope)
        chain = {start.id: start}
        newer = start
        while newer.superseded_by in everything and newer.superseded_by not in chain:
            newer = everything[newer.superseded_by]
            chain[newer.id] = newer
        grew = True
        while grew:  # the memories that were merged into a member of the chain
            older = [m for m in everything.values()
                     if m.superseded_by in chain and m.id not in chain]
            chain.update((m.id, m) for m in older)
            grew = bool(older)
        return sorted(chain.values(), key=lambda m: (m.created_at, m.id))

    def forget(
        self, *, entity_id: str, process_id: str | None = None, session_id: str | None = None,
        memory_id: str | None = None,
    ) -> int:
        """Erase one grain of ``entity_id`` and return how many turns and memories went.

        - ``entity_id`` alone: everything of the entity (GDPR erasure);
        - ``process_id``: that persona's turns (all sessions) and memories, shared ones
          included; the persona-less memories stay;
        - ``session_id`` (of ``process_id`` when given, else of every persona): the
          session's turns and the memories extracted from them alone;
        - ``memory_id``: that memory (under ``process_id`` when given, else wherever it
          is in the entity).

        Vectors, text index entries, the outbox and cached history of the grain go too.
        """
        check_id(entity_id, "entity_id")
        if memory_id is not None:
            if session_id is not None:
                raise ValueError("forget takes a session_id or a memory_id, not both")
            return self._forget_memory(entity_id, process_id, memory_id)
        self._recorder.flush()
        # extraction read before the erase writes nothing (the entity's other turns stay
        # pending and are extracted again); what is journaled or in flight of the grain goes
        with self.pipeline.inflight.erasing(entity_id):
            turn_ids = grain_turn_ids(self.store, entity_id, process_id, session_id)
            if process_id is None and session_id is None:
                removed = int(self.store.forget(entity_id))
            else:
                removed = forget_scope(self.store, entity_id, process_id=process_id,
                                       session_id=session_id)
            # a worker in another process may have written while the forget ran
            removed += sweep_late_writes(self.store, entity_id, process_id, session_id,
                                         turn_ids)
        self.pipeline.forget(entity_id, process_id, session_id)
        if self._llm is not None:
            self._llm.forget_entity(entity_id)  # cached session history goes too
        return removed

    def _forget_memory(self, entity_id: str, process_id: str | None, memory_id: str) -> int:
        check_id(memory_id, "memory_id")
        scope = Scope(entity_id, process_id)
        found = self.store.get_memory(scope, memory_id)
        if found is None and process_id is None:  # a persona's memory: find its persona
            found = next((m for m in self.store.scan(entity_id)
                          if isinstance(m, Memory) and m.id == memory_id), None)
        if found is None:
            return 0
        removed = int(self.store.delete_memories(Scope(entity_id, found.process_id), [memory_id]))
        self._memories_changed(entity_id)
        return removed

    # async twins: the store's I/O runs in a worker thread (the context goes with it)
    async def alist_memories(self, **kwargs: Any) -> list[Memory]:
        return await asyncio.to_thread(self.list_memories, **kwargs)

    async def aget_memory(self, memory_id: str, **kwargs: Any) -> Memory | None:
        return await asyncio.to_thread(self.get_memory, memory_id, **kwargs)

    async def aupdate_memory(self, memory_id: str, **kwargs: Any) -> Memory:
        return await asyncio.to_thread(self.update_memory, memory_id, **kwargs)

    async def adelete_memory(self, memory_id: str, **kwargs: Any) -> bool:
        return await asyncio.to_thread(self.delete_memory, memory_id, **kwargs)

    async def amemory_history(self, memory_id: str, **kwargs: Any) -> list[Memory]:
        return await asyncio.to_thread(self.memory_history, memory_id, **kwargs)

    async def aforget(
        self, *, entity_id: str, process_id: str | None = None, session_id: str | None = None,
        memory_id: str | None = None,
    ) -> int:
        return await asyncio.to_thread(self.forget, entity_id=entity_id, process_id=process_id,
                                       session_id=session_id, memory_id=memory_id)


def _not_found(memory_id: str, scope: Scope) -> NotFoundError:
    persona = f" (persona {scope.process_id!r})" if scope.process_id is not None else ""
    return NotFoundError(
        f"no memory {memory_id!r} visible to entity {scope.entity_id!r}{persona}")
