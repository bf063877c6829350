"""Async twins for stores whose driver is sync only: each call runs in a worker thread.

The event loop is never blocked: the sync method runs in ``asyncio.to_thread``.
Backends with a native async driver implement the ``a*`` methods themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from memori.core.models import ExtractState, Hit, Memory, Scope, Turn


class ThreadedAsyncMixin:
    """Adds the ``a*`` methods of ``AsyncMemoryStore`` on top of the sync ones."""

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)  # type: ignore[attr-defined]

    async def aappend_turns(self, turns: Sequence[Turn]) -> None:
        await asyncio.to_thread(self.append_turns, turns)  # type: ignore[attr-defined]

    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return await asyncio.to_thread(self.list_turns, scope, limit=limit)  # type: ignore[attr-defined]

    async def acount_turns(self, scope: Scope) -> int:
        return await asyncio.to_thread(self.count_turns, scope)  # type: ignore[attr-defined]

    async def adelete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return await asyncio.to_thread(self.delete_turns, scope, turn_ids)  # type: ignore[attr-defined]

    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        return await asyncio.to_thread(
            self.search_turns, scope, text=text, vector=vector, limit=limit  # type: ignore[attr-defined]
        )

    async def aput_memories(self, memories: Sequence[Memory]) -> None:
        await asyncio.to_thread(self.put_memories, memories)  # type: ignore[attr-defined]

    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return await asyncio.to_thread(self.get_memory, scope, memory_id)  # type: ignore[attr-defined]

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        return await asyncio.to_thread(
            self.list_memories, scope,  # type: ignore[attr-defined]
            include_superseded=include_superseded, limit=limit, offset=offset,
        )

    async def acount_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return await asyncio.to_thread(
            self.count_memories, scope, include_superseded=include_superseded  # type: ignore[attr-defined]
        )

    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool:
        return await asyncio.to_thread(self.update_memory, scope, memory_id, changes)  # type: ignore[attr-defined]

    async def adelete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return await asyncio.to_thread(self.delete_memories, scope, memory_ids)  # type: ignore[attr-defined]

    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        return await asyncio.to_thread(
            self.search_memories, scope, text=text, vector=vector,  # type: ignore[attr-defined]
            limit=limit, include_superseded=include_superseded,
        )

    async def aforget(self, entity_id: str) -> int:
        return await asyncio.to_thread(self.forget, entity_id)  # type: ignore[attr-defined]

    async def aoutbox_pending(self, limit: int = 100) -> list[Turn]:
        return await asyncio.to_thread(self.outbox_pending, limit)  # type: ignore[attr-defined]

    async def aoutbox_parked(self, limit: int = 100) -> list[Turn]:
        return await asyncio.to_thread(self.outbox_parked, limit)  # type: ignore[attr-defined]

    async def aoutbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        await asyncio.to_thread(
            self.outbox_mark, entity_id, turn_ids, state,  # type: ignore[attr-defined]
            attempts=attempts, error=error,
        )
