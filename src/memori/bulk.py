"""Remembering many memories in one call: every item checked first, vectors in batches.

``BulkRemember`` is a mixin of :class:`memori.Memori`. ``remember_many`` stores what
``remember`` would store for each item, with the same checks, redaction, retention,
near-duplicate merging and slot supersession, but embeds the texts in batches (the
local embedder spreads a batch over its worker threads) instead of one call per text,
and writes the new memories of a batch together (``Reconciler.apply_many``).
Every item is checked before anything is embedded or stored: one bad item raises
``ValueError`` naming its index, and nothing of the call is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from memori.attribution import CURRENT
from memori.core import Memory, Scope

if TYPE_CHECKING:
    from memori.core import Embedder, MemoryStore
    from memori.pipeline.reconcile import Reconciler

BATCH = 256
"""Texts embedded, then memories applied, per step (bounds what is held at once)."""

FIELDS = frozenset({"text", "kind", "shared", "metadata", "pinned", "expires_at", "ttl"})
"""What an item given as a mapping may set (the rest comes from the call's arguments)."""


class BulkRemember:
    """``remember_many`` / ``aremember_many`` of ``Memori``."""

    if TYPE_CHECKING:
        store: MemoryStore
        embedder: Embedder | None
        _reconciler: Reconciler

        def _scope_for(self, entity_id: str | None, process_id: Any) -> Scope: ...
        def _new_memory(
            self, scope: Scope, text: str, *, kind: str, shared: bool,
            metadata: dict[str, Any] | None, pinned: bool, expires_at: Any,
            ttl: float | None,
        ) -> Memory: ...
        def _memories_changed(self, entity_id: str, expires_at: float | None = None) -> None: ...

    def remember_many(
        self, items: Iterable[str | Mapping[str, Any]], *, kind: str = "note",
        shared: bool = False, entity_id: str | None = None, process_id: Any = CURRENT,
        metadata: dict[str, Any] | None = None, pinned: bool = False,
        expires_at: Any = None, ttl: float | None = None,
    ) -> list[Memory]:
        """Store many memories in the current (or the named) scope; returns those stored
        or changed, in order (an item merged into a memory already stored returns that
        memory; an item that changed nothing returns nothing).

        Each item is a text, or a mapping with ``text`` and any of ``kind``, ``shared``,
        ``metadata``, ``pinned``, ``expires_at``, ``ttl`` (which take the place of the
        call's arguments for that item).
        """
        if isinstance(items, (str, bytes, Mapping)):
            raise TypeError("remember_many() takes an iterable of texts or mappings, "
                            f"not one {type(items).__name__}")
        scope = self._scope_for(entity_id, process_id)
        defaults: dict[str, Any] = {"kind": kind, "shared": shared, "metadata": metadata,
                                    "pinned": pinned, "expires_at": expires_at, "ttl": ttl}
        memories = [self._item(scope, i, item, defaults) for i, item in enumerate(items)]
        stored: list[Memory] = []
        for start in range(0, len(memories), BATCH):
            stored.extend(self._reconciler.apply_many(
                self._embedded(memories[start:start + BATCH])))
        if memories:
            expiring = [m.expires_at for m in memories if m.expires_at is not None]
            self._memories_changed(scope.entity_id, min(expiring) if expiring else None)
        return stored

    async def aremember_many(
        self, items: Iterable[str | Mapping[str, Any]], **kwargs: Any,
    ) -> list[Memory]:
        """:meth:`remember_many` for async code (embedding and writes off the loop)."""
        return await asyncio.to_thread(self.remember_many, items, **kwargs)

    def _item(
        self, scope: Scope, index: int, item: str | Mapping[str, Any],
        defaults: dict[str, Any],
    ) -> Memory:
        if isinstance(item, str):
            fields = {**defaults, "text": item}
        elif isinstance(item, Mapping):
            unknown = set(item) - FIELDS
            if unknown:
                raise ValueError(f"item {index}: unknown field(s) {sorted(map(str, unknown))}; "
                                 f"known: {sorted(FIELDS)}")
            if "text" not in item:
                raise ValueError(f"item {index}: 'text' is missing")
            fields = {**defaults, **item}
        else:
            raise ValueError(f"item {index}: a text or a mapping, not {type(item).__name__}")
        text = fields.pop("text")
        try:
            return self._new_memory(scope, text, **fields)
        except (TypeError, ValueError) as e:
            raise ValueError(f"item {index}: {e}") from e

    def _embedded(self, memories: list[Memory]) -> list[Memory]:
        """The memories with their vectors, embedded as one batch."""
        if self.embedder is None or self.store.vector_dim is None or not memories:
            return memories
        from memori.pipeline.recorder import EMBED_MAX_CHARS

        vectors = self.embedder.embed([m.content[:EMBED_MAX_CHARS] for m in memories])
        return [replace(m, embedding=tuple(v)) for m, v in zip(memories, vectors, strict=True)]
