"""``PlanStore``: one plan per operation serves the sync method and its async twin.

A toy backend whose steps are calls on a dict shows what the mechanism promises:
both twins run the same plan and return the same value; arguments are checked
before any plan is built; each run names the operation, its entity and whether it
only reads; derived plans are built from the required ones; the default ``arun``
never runs a step on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from memori.core import Capability, ExtractState, Hit, Memory, Scope, Turn
from memori.core.plan_store import Plan, PlanStore, Work, adrive, drive, single_entity

T = TypeVar("T")
Step = Callable[[], Any]


class DictPlans(PlanStore):
    """Items in a dict; a step is a zero-argument call that reads or writes it."""

    name = "dict"
    vector_dim = None

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Turn | Memory] = {}
        self.works: list[Work] = []
        self.step_threads: list[int] = []
        self.built: list[str] = []

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.TEXT_SEARCH})

    def setup(self) -> None: ...

    def close(self) -> None: ...

    def _execute(self, step: Step) -> Any:
        self.step_threads.append(threading.get_ident())
        return step()

    def run(self, plan: Plan[T], work: Work) -> T:
        self.works.append(work)
        return drive(plan, self._execute)

    # plans

    def _all(self) -> Plan[list[Turn | Memory]]:
        items: list[Turn | Memory] = yield lambda: sorted(
            self.items.values(), key=lambda i: (i.created_at, i.id))
        return items

    def _put(self, items: Sequence[Turn | Memory]) -> Plan[None]:
        yield lambda: self.items.update({(i.entity_id, i.id): i for i in items})

    def plan_append_turns(self, turns: Sequence[Turn]) -> Plan[None]:
        return self._put(turns)

    def plan_list_turns(self, scope: Scope, limit: int | None) -> Plan[list[Turn]]:
        self.built.append("list_turns")
        found = [i for i in (yield from self._all()) if isinstance(i, Turn) and i.visible_to(scope)]
        return found if limit is None else found[len(found) - limit:] if limit else []

    def plan_delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
        doomed = [i for i in (yield from self.plan_list_turns(scope, None))
                  if turn_ids is None or i.id in turn_ids]
        yield lambda: [self.items.pop((i.entity_id, i.id)) for i in doomed]
        return len(doomed)

    def plan_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]:
        turns = yield from self.plan_list_turns(scope, None)
        return [Hit(t, 1.0) for t in turns if text and text in t.content][:limit]

    def plan_put_memories(self, memories: Sequence[Memory]) -> Plan[None]:
        return self._put(memories)

    def plan_get_memory(self, scope: Scope, memory_id: str) -> Plan[Memory | None]:
        found = yield from self.plan_list_memories(scope, True, None, 0)
        return next((m for m in found if m.id == memory_id), None)

    def plan_list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> Plan[list[Memory]]:
        found = [i for i in (yield from self._all()) if isinstance(i, Memory)
                 and i.visible_to(scope) and (include_superseded or i.is_current)]
        return found[offset:None if limit is None else offset + limit]

    def plan_update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> Plan[bool]:
        current = yield from self.plan_get_memory(scope, memory_id)
        if current is None:
            return False
        yield from self._put([replace(current, **changes)])
        return True

    def plan_delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
        doomed = [m for m in (yield from self.plan_list_memories(scope, True, None, 0))
                  if m.id in memory_ids]
        yield lambda: [self.items.pop((m.entity_id, m.id)) for m in doomed]
        return len(doomed)

    def plan_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool,
    ) -> Plan[list[Hit]]:
        found = yield from self.plan_list_memories(scope, include_superseded, None, 0)
        return [Hit(m, 1.0) for m in found if text and text in m.content][:limit]

    def plan_forget(self, entity_id: str) -> Plan[int]:
        doomed = [k for k in self.items if k[0] == entity_id]
        yield lambda: [self.items.pop(k) for k in doomed]
        return len(doomed)

    def _outbox(self, state: ExtractState, limit: int) -> Plan[list[Turn]]:
        items = yield from self._all()
        return [i for i in items if isinstance(i, Turn) and i.extract_state is state][:limit]

    def plan_outbox_pending(self, limit: int) -> Plan[list[Turn]]:
        return self._outbox(ExtractState.PENDING, limit)

    def plan_outbox_parked(self, limit: int) -> Plan[list[Turn]]:
        return self._outbox(ExtractState.PARKED, limit)

    def plan_outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]:
        for turn_id in turn_ids:
            current = self.items.get((entity_id, turn_id))
            if isinstance(current, Turn):
                yield from self._put([replace(current, extract_state=state)])

    def scan(self, entity_id: str | None = None) -> Any:
        return iter([i for k, i in self.items.items() if entity_id in (None, k[0])])


SCOPE = Scope("alice", "p", "s1")


def _fill(store: DictPlans) -> None:
    store.append_turns([Turn("alice", "s1", "user", f"turn {i}", process_id="p",
                             created_at=float(i)) for i in range(3)])
    store.put_memories([Memory("alice", "likes tea", created_at=1.0),
                        Memory("bob", "likes tea", created_at=2.0)])


def test_the_sync_and_async_twins_run_the_same_plans() -> None:
    sync, twin = DictPlans(), DictPlans()
    _fill(sync)
    asyncio.run(twin.aappend_turns([i for i in sync.items.values() if isinstance(i, Turn)]))
    asyncio.run(twin.aput_memories([i for i in sync.items.values() if isinstance(i, Memory)]))

    async def reads() -> list[Any]:
        return [
            await twin.alist_turns(SCOPE, limit=2), await twin.acount_turns(SCOPE),
            await twin.alist_memories(SCOPE), await twin.acount_memories(SCOPE),
            await twin.asearch_memories(SCOPE, text="tea"), await twin.aoutbox_pending(),
        ]

    assert asyncio.run(reads()) == [
        sync.list_turns(SCOPE, limit=2), sync.count_turns(SCOPE),
        sync.list_memories(SCOPE), sync.count_memories(SCOPE),
        sync.search_memories(SCOPE, text="tea"), sync.outbox_pending(),
    ]
    assert [t.content for t in sync.list_turns(SCOPE, limit=2)] == ["turn 1", "turn 2"]
    assert sync.count_memories(SCOPE) == 1  # bob's memory is not alice's


def test_each_run_names_its_operation_entity_and_whether_it_only_reads() -> None:
    store = DictPlans()
    _fill(store)
    assert store.works[0] == Work("append_turns", "alice")
    assert store.works[1] == Work("put_memories", None)  # two entities in one write
    store.works.clear()
    store.list_turns(SCOPE)
    store.delete_turns(SCOPE, ["nope"])
    store.outbox_pending(5)
    store.forget("bob")
    assert store.works == [
        Work("list_turns", "alice", read_only=True), Work("delete_turns", "alice"),
        Work("outbox_pending", None, read_only=True), Work("forget", "bob"),
    ]


@pytest.mark.parametrize(("call", "error"), [
    (lambda s: s.list_turns(SCOPE, limit=-1), ValueError),
    (lambda s: s.list_memories(SCOPE, offset=-2), ValueError),
    (lambda s: s.search_turns(SCOPE, text="x", limit=True), TypeError),
    (lambda s: s.list_turns(("alice", "p", None)), TypeError),
    (lambda s: asyncio.run(s.alist_turns(SCOPE, limit=-1)), ValueError),
])
def test_arguments_are_checked_before_any_plan_is_built(
    call: Callable[[DictPlans], Any], error: type[Exception],
) -> None:
    store = DictPlans()
    with pytest.raises(error):
        call(store)
    assert store.built == [] and store.works == []


def test_derived_counts_are_built_from_the_required_plans() -> None:
    store = DictPlans()
    _fill(store)
    store.built.clear()
    assert store.count_turns(SCOPE) == 3
    assert store.built == ["list_turns"]


def test_the_default_async_runner_keeps_steps_off_the_event_loop() -> None:
    store = DictPlans()

    async def main() -> int:
        await store.aappend_turns([Turn("alice", "s1", "user", "hi", process_id="p")])
        await store.alist_turns(SCOPE)
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert store.step_threads and loop_thread not in store.step_threads


def test_a_backend_missing_a_plan_cannot_be_created() -> None:
    assert {"run", "plan_forget", "plan_search_turns"} <= PlanStore.__abstractmethods__
    with pytest.raises(TypeError, match="abstract"):
        type("NoPlans", (PlanStore,), {})()


def test_drive_and_adrive_feed_each_result_back_to_the_plan() -> None:
    def plan() -> Plan[list[int]]:
        a = yield 1
        b = yield a + 1
        return [a, b]

    assert drive(plan(), lambda step: step * 10) == [10, 110]

    async def aexecute(step: int) -> int:
        return step * 10

    assert asyncio.run(adrive(plan(), aexecute)) == [10, 110]


def test_single_entity() -> None:
    assert single_entity([Memory("a", "x"), Memory("a", "y")]) == "a"
    assert single_entity([Memory("a", "x"), Memory("b", "y")]) is None
    assert single_entity([]) is None
