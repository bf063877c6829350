"""``PlanStore``: a backend written once as sans-I/O plans, run sync or async by one mechanism.

A plan is a generator: it yields steps (whatever the backend's driver executes:
a SQL statement, a MongoDB request, a qdrant-client call) and receives each
step's result, then returns the operation's value. The backend writes one plan
per operation and two small runners (``run`` on its sync driver, ``arun`` on its
async one); every public method and its ``a*`` twin are derived here, so the sync
and async paths cannot drift apart. Standard library only.

Plans compose with ``yield from``: the derived plans below (counts, the parked
outbox) are built from the required ones, and a backend overrides one only to
make it faster.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from memori.core.forget_scope import check_grain, from_turns_only
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.store_base import StoreBase
from memori.core.store_rules import check_scope, check_store_limit

T = TypeVar("T")

Plan = Generator[Any, Any, T]
"""A generator yielding the backend's steps and returning ``T``."""


@dataclass(frozen=True, slots=True)
class Work:
    """What a plan is run for: the operation, the entity it works for (None: it crosses
    entities or writes several), and whether it only reads."""

    op: str
    entity_id: str | None
    read_only: bool = False


def drive(plan: Plan[T], execute: Callable[[Any], Any]) -> T:
    """Run ``plan``, executing each step it yields with ``execute``."""
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result = execute(step)


async def adrive(plan: Plan[T], execute: Callable[[Any], Awaitable[Any]]) -> T:
    """Run ``plan``, awaiting ``execute`` on each step it yields."""
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result = await execute(step)


def single_entity(items: Sequence[Turn | Memory]) -> str | None:
    """The entity every item belongs to, or None when they belong to several (or none)."""
    entities = {item.entity_id for item in items}
    return entities.pop() if len(entities) == 1 else None


class PlanStore(StoreBase):
    """Implement the ``plan_*`` methods and ``run``; the store's methods are derived.

    ``run(plan, work)`` runs one plan (one transaction where the store has them)
    on the sync driver; ``arun`` does it on the async driver and, by default, runs
    ``run`` in a worker thread. Scope and limit arguments are checked here, before
    any plan is built.
    """

    # the runners

    @abstractmethod
    def run(self, plan: Plan[T], work: Work) -> T: ...

    async def arun(self, plan: Plan[T], work: Work) -> T:
        return await asyncio.to_thread(self.run, plan, work)

    # required plans

    @abstractmethod
    def plan_append_turns(self, turns: Sequence[Turn]) -> Plan[None]: ...

    @abstractmethod
    def plan_list_turns(self, scope: Scope, limit: int | None) -> Plan[list[Turn]]: ...

    @abstractmethod
    def plan_delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]: ...

    @abstractmethod
    def plan_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]: ...

    @abstractmethod
    def plan_put_memories(self, memories: Sequence[Memory]) -> Plan[None]: ...

    @abstractmethod
    def plan_get_memory(self, scope: Scope, memory_id: str) -> Plan[Memory | None]: ...

    @abstractmethod
    def plan_list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> Plan[list[Memory]]: ...

    @abstractmethod
    def plan_update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> Plan[bool]: ...

    @abstractmethod
    def plan_delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]: ...

    @abstractmethod
    def plan_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool,
    ) -> Plan[list[Hit]]: ...

    @abstractmethod
    def plan_forget(self, entity_id: str) -> Plan[int]: ...

    @abstractmethod
    def plan_outbox_pending(self, limit: int) -> Plan[list[Turn]]: ...

    @abstractmethod
    def plan_outbox_parked(self, limit: int) -> Plan[list[Turn]]: ...

    @abstractmethod
    def plan_outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]: ...

    # derived plans (override to make them faster)

    def plan_count_turns(self, scope: Scope) -> Plan[int]:
        return len((yield from self.plan_list_turns(scope, None)))

    def plan_count_memories(self, scope: Scope, include_superseded: bool) -> Plan[int]:
        return len((yield from self.plan_list_memories(scope, include_superseded, None, 0)))

    def plan_forget_scope(
        self, entity_id: str, process_id: str, session_id: str | None,
    ) -> Plan[int]:
        """One persona (``session_id`` None) or one session of a persona: list, then delete
        by ids, in one plan (see :mod:`memori.core.forget_scope` for what goes)."""
        scope = Scope(entity_id, process_id)
        memories = yield from self.plan_list_memories(scope, True, None, 0)
        if session_id is None:
            doomed = [m.id for m in memories if m.process_id == process_id]
            removed = (yield from self.plan_delete_memories(scope, doomed)) if doomed else 0
            return int(removed + (yield from self.plan_delete_turns(scope, None)))
        session = scope.with_session(session_id)
        turn_ids = [t.id for t in (yield from self.plan_list_turns(session, None))]
        doomed = [m.id for m in memories if from_turns_only(m, set(turn_ids))]
        removed = (yield from self.plan_delete_memories(scope, doomed)) if doomed else 0
        if turn_ids:
            removed += yield from self.plan_delete_turns(session, turn_ids)
        return int(removed)


    # the sync methods

    def append_turns(self, turns: Sequence[Turn]) -> None:
        self.run(self.plan_append_turns(turns), Work("append_turns", single_entity(turns)))

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return self.run(*self._list_turns(scope, limit))

    def count_turns(self, scope: Scope) -> int:
        return self.run(*self._count_turns(scope))

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return self.run(*self._delete_turns(scope, turn_ids))

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        return self.run(*self._search_turns(scope, text, vector, limit))

    def put_memories(self, memories: Sequence[Memory]) -> None:
        self.run(self.plan_put_memories(memories), Work("put_memories", single_entity(memories)))

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return self.run(*self._get_memory(scope, memory_id))

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        return self.run(*self._list_memories(scope, include_superseded, limit, offset))

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return self.run(*self._count_memories(scope, include_superseded))

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        return self.run(*self._update_memory(scope, memory_id, changes))

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return self.run(*self._delete_memories(scope, memory_ids))

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        return self.run(*self._search_memories(scope, text, vector, limit, include_superseded))

    def forget(self, entity_id: str) -> int:
        return self.run(self.plan_forget(entity_id), Work("forget", entity_id))

    def forget_scope(
        self, entity_id: str, *, process_id: str | None = None, session_id: str | None = None,
    ) -> int:
        check_grain(entity_id, process_id, session_id)
        if process_id is None:  # a session under every persona: found by a scan
            return super().forget_scope(entity_id, session_id=session_id)
        return self.run(self.plan_forget_scope(entity_id, process_id, session_id),
                        Work("forget_scope", entity_id))

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        return self.run(*self._outbox_pending(limit))

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        return self.run(*self._outbox_parked(limit))

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        self.run(*self._outbox_mark(entity_id, turn_ids, state, attempts, error))

    # the async twins: the same plans, awaited

    async def aappend_turns(self, turns: Sequence[Turn]) -> None:
        await self.arun(self.plan_append_turns(turns), Work("append_turns", single_entity(turns)))

    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return await self.arun(*self._list_turns(scope, limit))

    async def acount_turns(self, scope: Scope) -> int:
        return await self.arun(*self._count_turns(scope))

    async def adelete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return await self.arun(*self._delete_turns(scope, turn_ids))

    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        return await self.arun(*self._search_turns(scope, text, vector, limit))

    async def aput_memories(self, memories: Sequence[Memory]) -> None:
        await self.arun(self.plan_put_memories(memories),
                        Work("put_memories", single_entity(memories)))

    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return await self.arun(*self._get_memory(scope, memory_id))

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        return await self.arun(*self._list_memories(scope, include_superseded, limit, offset))

    async def acount_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return await self.arun(*self._count_memories(scope, include_superseded))

    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool:
        return await self.arun(*self._update_memory(scope, memory_id, changes))

    async def adelete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return await self.arun(*self._delete_memories(scope, memory_ids))

    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        return await self.arun(
            *self._search_memories(scope, text, vector, limit, include_superseded))

    async def aforget(self, entity_id: str) -> int:
        return await self.arun(self.plan_forget(entity_id), Work("forget", entity_id))

    async def aforget_scope(
        self, entity_id: str, *, process_id: str | None = None, session_id: str | None = None,
    ) -> int:
        check_grain(entity_id, process_id, session_id)
        if process_id is None:
            return await asyncio.to_thread(self.forget_scope, entity_id, session_id=session_id)
        return await self.arun(self.plan_forget_scope(entity_id, process_id, session_id),
                               Work("forget_scope", entity_id))

    async def aoutbox_pending(self, limit: int = 100) -> list[Turn]:
        return await self.arun(*self._outbox_pending(limit))

    async def aoutbox_parked(self, limit: int = 100) -> list[Turn]:
        return await self.arun(*self._outbox_parked(limit))

    async def aoutbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        await self.arun(*self._outbox_mark(entity_id, turn_ids, state, attempts, error))

    # each operation's checked arguments, plan and work, shared by both twins

    def _list_turns(self, scope: Scope, limit: int | None) -> tuple[Plan[list[Turn]], Work]:
        check_scope(scope)
        check_store_limit(limit)
        return (self.plan_list_turns(scope, limit),
                Work("list_turns", scope.entity_id, read_only=True))

    def _count_turns(self, scope: Scope) -> tuple[Plan[int], Work]:
        check_scope(scope)
        return self.plan_count_turns(scope), Work("count_turns", scope.entity_id, read_only=True)

    def _delete_turns(
        self, scope: Scope, turn_ids: Sequence[str] | None,
    ) -> tuple[Plan[int], Work]:
        check_scope(scope)
        return self.plan_delete_turns(scope, turn_ids), Work("delete_turns", scope.entity_id)

    def _search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> tuple[Plan[list[Hit]], Work]:
        check_scope(scope)
        check_store_limit(limit)
        return (self.plan_search_turns(scope, text, vector, limit),
                Work("search_turns", scope.entity_id, read_only=True))

    def _get_memory(self, scope: Scope, memory_id: str) -> tuple[Plan[Memory | None], Work]:
        check_scope(scope)
        return (self.plan_get_memory(scope, memory_id),
                Work("get_memory", scope.entity_id, read_only=True))

    def _list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> tuple[Plan[list[Memory]], Work]:
        check_scope(scope)
        check_store_limit(limit)
        check_store_limit(offset, "offset")
        return (self.plan_list_memories(scope, include_superseded, limit, offset),
                Work("list_memories", scope.entity_id, read_only=True))

    def _count_memories(self, scope: Scope, include_superseded: bool) -> tuple[Plan[int], Work]:
        check_scope(scope)
        return (self.plan_count_memories(scope, include_superseded),
                Work("count_memories", scope.entity_id, read_only=True))

    def _update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> tuple[Plan[bool], Work]:
        check_scope(scope)
        return (self.plan_update_memory(scope, memory_id, changes),
                Work("update_memory", scope.entity_id))

    def _delete_memories(
        self, scope: Scope, memory_ids: Sequence[str],
    ) -> tuple[Plan[int], Work]:
        check_scope(scope)
        return (self.plan_delete_memories(scope, memory_ids),
                Work("delete_memories", scope.entity_id))

    def _search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool,
    ) -> tuple[Plan[list[Hit]], Work]:
        check_scope(scope)
        check_store_limit(limit)
        return (self.plan_search_memories(scope, text, vector, limit, include_superseded),
                Work("search_memories", scope.entity_id, read_only=True))

    def _outbox_pending(self, limit: int) -> tuple[Plan[list[Turn]], Work]:
        check_store_limit(limit)
        return self.plan_outbox_pending(limit), Work("outbox_pending", None, read_only=True)

    def _outbox_parked(self, limit: int) -> tuple[Plan[list[Turn]], Work]:
        check_store_limit(limit)
        return self.plan_outbox_parked(limit), Work("outbox_parked", None, read_only=True)

    def _outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> tuple[Plan[None], Work]:
        return (self.plan_outbox_mark(entity_id, turn_ids, state, attempts, error),
                Work("outbox_mark", None))
