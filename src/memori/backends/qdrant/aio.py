"""The async twins of the Qdrant store: the same operations, awaited.

Each ``a*`` method runs the operation its sync twin runs (see :mod:`calls`) on the
async client, or in a worker thread when only a local sync client exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from memori.backends.qdrant import operations as ops
from memori.backends.qdrant.calls import Op, arun
from memori.core.models import Hit, Memory, Scope, Turn

if TYPE_CHECKING:
    from memori.backends.qdrant.connection import Connection
    from memori.backends.qdrant.schema import Features, Layout

T = TypeVar("T")


class AsyncTwins:
    """``AsyncMemoryStore`` for a store that provides ``_run`` and ``_setup_op``."""

    _layout: Layout
    _conn: Connection
    _features: Features | None

    def _run(self, op: Op[T]) -> T:
        raise NotImplementedError

    def _setup_op(self) -> Op[Features]:
        raise NotImplementedError

    async def _arun(self, op: Op[T]) -> T:
        if self._conn.native_async:
            return await arun(op, self._conn.acall)
        return await asyncio.to_thread(self._run, op)

    async def _afeatures(self) -> Features:
        if self._features is None:
            self._features = await self._arun(self._setup_op())
        return self._features

    async def _aexec(self, op: Op[T]) -> T:
        """Run ``op`` after making sure setup has run on this handle."""
        await self._afeatures()
        return await self._arun(op)

    async def asetup(self) -> None:
        self._features = await self._arun(self._setup_op())

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def aappend_turns(self, turns: Sequence[Turn]) -> None:
        await self._aexec(ops.append_turns(self._layout, turns))

    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return await self._aexec(ops.list_turns(self._layout, scope, limit))

    async def acount_turns(self, scope: Scope) -> int:
        return await self._aexec(ops.count_turns(self._layout, scope))

    async def adelete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return await self._aexec(ops.delete_turns(self._layout, scope, turn_ids))

    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        features = await self._afeatures()
        return await self._arun(
            ops.search_turns(self._layout, features, scope, text, vector, limit)
        )

    async def aput_memories(self, memories: Sequence[Memory]) -> None:
        await self._aexec(ops.put_memories(self._layout, memories))

    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return await self._aexec(ops.get_memory(self._layout, scope, memory_id))

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        return await self._aexec(
            ops.list_memories(self._layout, scope, include_superseded, limit, offset)
        )

    async def acount_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return await self._aexec(ops.count_memories(self._layout, scope, include_superseded))

    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool:
        return await self._aexec(ops.update_memory(self._layout, scope, memory_id, changes))

    async def adelete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return await self._aexec(ops.delete_memories(self._layout, scope, memory_ids))

    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        features = await self._afeatures()
        return await self._arun(ops.search_memories(
            self._layout, features, scope, text, vector, limit, include_superseded
        ))

    async def aforget(self, entity_id: str) -> int:
        return await self._aexec(ops.forget(self._layout, entity_id))
