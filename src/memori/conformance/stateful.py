"""Isolation, at random: a Hypothesis state machine against the in-memory reference.

Random writes, reads, searches, updates, deletes, outbox marks and forgets run
over look-alike scopes (entity ids differing by case, a ``%`` or a prefix;
personas likewise) on the store and on ``InMemoryStore``; every answer must
agree. Rankings may differ between backends, so text search is compared as
"the right items, as many as the limit allows", vector search by score.

Size: ``MEMORI_CONFORMANCE_EXAMPLES`` (runs, default 20) and
``MEMORI_CONFORMANCE_STEPS`` (steps per run, default 30). A failure prints the
steps that led to it; ``MEMORI_CONFORMANCE_SHRINK=1`` shrinks them to a minimal
sequence first (which may take minutes on a database).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from memori.conformance.base import raw_count
from memori.conformance.checks import (
    SCORE_TOLERANCE,
    assert_memory_hits,
    assert_ranked,
    assert_same_memories,
    assert_same_memory,
    assert_same_records,
    assert_same_turns,
    assert_turn_hits,
    memory_visible,
    turn_in_scope,
)
from memori.conformance.data import DIM, WORDS, fresh
from memori.conformance.guard import isolation
from memori.conformance.reference import InMemoryStore
from memori.core import Capability, ExtractState, Hit, Memory, MemoryStore, Scope, Turn


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


EXAMPLES = _env_int("MEMORI_CONFORMANCE_EXAMPLES", 20)
STEPS = _env_int("MEMORI_CONFORMANCE_STEPS", 30)
PHASES = tuple(
    p for p in Phase
    if p is not Phase.shrink or _env_int("MEMORI_CONFORMANCE_SHRINK", 0)
)

N_ENTITIES, N_PERSONAS, N_SESSIONS, N_MEMORY_IDS = 4, 4, 3, 5

index = st.integers
texts = st.lists(st.sampled_from([*WORDS, "Zebra", "QUARTZ"]), min_size=1, max_size=4).map(
    " ".join
)
queries = st.lists(
    st.sampled_from([*WORDS, "ZEBRA", "%", "*", "'", "OR", "-", '"']), min_size=1, max_size=3
).map(" ".join)
vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).filter(any).map(
    lambda xs: tuple(float(x) for x in xs)
)
limits = st.integers(0, 12)
states = st.sampled_from(list(ExtractState))

TurnSpec = tuple[int, int, int, str, tuple[float, ...] | None, ExtractState]
MemorySpec = tuple[int, int, int, str, bool, int | None, tuple[float, ...] | None]
turn_specs = st.tuples(
    index(0, N_ENTITIES - 1), index(0, N_PERSONAS - 1), index(0, N_SESSIONS - 1), texts,
    st.none() | vectors, states,
)
memory_specs = st.tuples(
    index(0, N_ENTITIES - 1), index(0, N_PERSONAS - 1), index(0, N_MEMORY_IDS - 1), texts,
    st.booleans(), st.none() | index(0, N_MEMORY_IDS - 1), st.none() | vectors,
)


class ReferenceMachine(RuleBasedStateMachine):
    """Drives the store under test and the reference with the same operations."""

    store: MemoryStore

    def __init__(self) -> None:
        super().__init__()
        base = fresh("mc-m")
        self.entities = [base, base.upper(), base + "%", base[:-1]]
        for e in self.entities:
            assert raw_count(self.store, e) == 0, f"fresh entity {e!r} is not empty"
        self.personas: list[str | None] = [None, "coach", "coach%", "Coach"]
        self.sessions = ["s1", "s2", "S1"]
        self.memory_ids = [f"m{i}" for i in range(N_MEMORY_IDS - 1)] + ["m_"]
        self.turn_ids: list[str] = []
        self.model = InMemoryStore(vector_dim=DIM)
        self.model.setup()
        caps = self.store.capabilities
        self.text = Capability.TEXT_SEARCH in caps
        self.vector = Capability.VECTOR_SEARCH in caps
        self.exact_vector = Capability.NATIVE_VECTOR_INDEX not in caps

    def teardown(self) -> None:
        """Forget every entity of the run, as the forget rule would: nothing may remain."""
        for e in self.entities:
            got, want = self.both("forget", e)
            assert got == want, f"forget({e!r}) removed {got}, expected {want}"
            assert raw_count(self.store, e) == 0, f"forget({e!r}) left rows behind"

    def scope(self, e: int, p: int, s: int | None = None) -> Scope:
        return Scope(self.entities[e], self.personas[p], None if s is None else self.sessions[s])

    def both(self, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Call ``method`` on the store and on the model."""
        return (getattr(self.store, method)(*args, **kwargs),
                getattr(self.model, method)(*args, **kwargs))

    # writes

    @initialize(turns=st.lists(turn_specs, min_size=3, max_size=10),
                memories=st.lists(memory_specs, min_size=3, max_size=10))
    def seed(self, turns: list[TurnSpec], memories: list[MemorySpec]) -> None:
        """Every run starts with data in several scopes (rules may be switched off)."""
        for spec in turns:
            self.append_turn(*spec)
        for mspec in memories:
            self.put_memory(*mspec)

    @rule(spec=turn_specs)
    def append_turn_rule(self, spec: TurnSpec) -> None:
        self.append_turn(*spec)

    @rule(spec=memory_specs)
    def put_memory_rule(self, spec: MemorySpec) -> None:
        self.put_memory(*spec)

    def append_turn(self, e: int, p: int, s: int, content: str,
                    vector: tuple[float, ...] | None, state: ExtractState) -> None:
        scope = self.scope(e, p, s)
        t = Turn(entity_id=scope.entity_id, process_id=scope.process_id,
                 session_id=self.sessions[s], role="user", content=content,
                 extract_state=state, embedding=vector if self.vector else None)
        self.turn_ids.append(t.id)
        self.both("append_turns", [t])

    def put_memory(self, e: int, p: int, m: int, content: str, shared: bool,
                   superseded: int | None, vector: tuple[float, ...] | None) -> None:
        mem = Memory(
            id=self.memory_ids[m], entity_id=self.entities[e], process_id=self.personas[p],
            content=content, shared=shared, session_id="s1",
            superseded_by=None if superseded is None else self.memory_ids[superseded],
            embedding=vector if self.vector else None,
        )
        self.both("put_memories", [mem])

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          m=index(0, N_MEMORY_IDS - 1), content=st.none() | texts,
          superseded=st.none() | st.just(-1) | index(0, N_MEMORY_IDS - 1),
          shared=st.none() | st.booleans(), count=st.none() | index(1, 9))
    def update_memory(self, e: int, p: int, m: int, content: str | None,
                      superseded: int | None, shared: bool | None, count: int | None) -> None:
        changes: dict[str, Any] = {"updated_at": 1_700_000_000.0}
        if content is not None:
            changes["content"] = content
        if superseded is not None:
            changes["superseded_by"] = None if superseded < 0 else self.memory_ids[superseded]
        if shared is not None:
            changes["shared"] = shared
        if count is not None:
            changes["count"], changes["last_seen_at"] = count, 1_700_000_000.0 + count
        got, want = self.both("update_memory", self.scope(e, p), self.memory_ids[m], changes)
        assert got is want, f"update_memory({self.scope(e, p)}, {self.memory_ids[m]!r})"

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          ms=st.lists(index(0, N_MEMORY_IDS - 1), max_size=3))
    def delete_memories(self, e: int, p: int, ms: list[int]) -> None:
        chosen = [self.memory_ids[m] for m in dict.fromkeys(ms)]
        got, want = self.both("delete_memories", self.scope(e, p), chosen)
        assert got == want, f"delete_memories({self.scope(e, p)}, {chosen})"

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          s=st.none() | index(0, N_SESSIONS - 1),
          picks=st.none() | st.lists(index(0, 10_000), max_size=3))
    def delete_turns(self, e: int, p: int, s: int | None, picks: list[int] | None) -> None:
        chosen = None
        if picks is not None:
            chosen = list(dict.fromkeys(self.turn_ids[i % len(self.turn_ids)]
                                        for i in picks if self.turn_ids))
        got, want = self.both("delete_turns", self.scope(e, p, s), chosen)
        assert got == want, f"delete_turns({self.scope(e, p, s)}, {chosen})"

    @rule(e=index(0, N_ENTITIES - 1), picks=st.lists(index(0, 10_000), max_size=3),
          state=states, attempts=st.none() | index(0, 5))
    def outbox_mark(self, e: int, picks: list[int], state: ExtractState,
                    attempts: int | None) -> None:
        chosen = list(dict.fromkeys(
            self.turn_ids[i % len(self.turn_ids)] for i in picks if self.turn_ids
        ))
        self.both("outbox_mark", self.entities[e], chosen, state, attempts=attempts,
                  error=None if attempts is None else f"error {attempts}")

    @rule(e=index(0, N_ENTITIES - 1))
    def forget(self, e: int) -> None:
        got, want = self.both("forget", self.entities[e])
        assert got == want, f"forget({self.entities[e]!r}) removed {got}, expected {want}"
        assert raw_count(self.store, self.entities[e]) == 0, "forget left rows behind"

    # reads

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          s=st.none() | index(0, N_SESSIONS - 1), limit=st.none() | limits)
    def list_turns(self, e: int, p: int, s: int | None, limit: int | None) -> None:
        scope = self.scope(e, p, s)
        got, want = self.both("list_turns", scope, limit=limit)
        assert_same_turns(got, want)
        got, want = self.both("count_turns", scope)
        assert got == want, f"count_turns({scope})"

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1), history=st.booleans(),
          limit=st.none() | limits, offset=index(0, 3))
    def list_memories(self, e: int, p: int, history: bool, limit: int | None,
                      offset: int) -> None:
        scope = self.scope(e, p)
        got, want = self.both("list_memories", scope, include_superseded=history,
                              limit=limit, offset=offset)
        assert_same_memories(got, want)
        got, want = self.both("count_memories", scope, include_superseded=history)
        assert got == want, f"count_memories({scope}, include_superseded={history})"

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          m=index(0, N_MEMORY_IDS - 1))
    def get_memory(self, e: int, p: int, m: int) -> None:
        got, want = self.both("get_memory", self.scope(e, p), self.memory_ids[m])
        if want is None:
            assert got is None, f"LEAK: get_memory({self.scope(e, p)}, {self.memory_ids[m]!r})"
        else:
            assert got is not None, f"get_memory({self.scope(e, p)}, {self.memory_ids[m]!r})"
            assert_same_memory(got, want)

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1), query=queries,
          vector=vectors, mode=st.sampled_from(["text", "vector", "both"]), limit=limits,
          history=st.booleans())
    def search_memories(self, e: int, p: int, query: str, vector: tuple[float, ...],
                        mode: str, limit: int, history: bool) -> None:
        kwargs = self._search_kwargs(mode, query, vector)
        if kwargs is None:
            return
        scope = self.scope(e, p)
        got = self.store.search_memories(scope, limit=limit, include_superseded=history,
                                         **kwargs)
        every = self.model.search_memories(scope, limit=10_000, include_superseded=history,
                                           **kwargs)
        assert_memory_hits(got, scope, {h.id for h in every}, limit=limit,
                           include_superseded=history)
        for h in got:
            assert isinstance(h.item, Memory) and memory_visible(h.item, scope, history)
        self._compare_ranking(got, every, kwargs, limit)

    @rule(e=index(0, N_ENTITIES - 1), p=index(0, N_PERSONAS - 1),
          s=st.none() | index(0, N_SESSIONS - 1), query=queries, vector=vectors,
          mode=st.sampled_from(["text", "vector", "both"]), limit=limits)
    def search_turns(self, e: int, p: int, s: int | None, query: str,
                     vector: tuple[float, ...], mode: str, limit: int) -> None:
        kwargs = self._search_kwargs(mode, query, vector)
        if kwargs is None:
            return
        scope = self.scope(e, p, s)
        got = self.store.search_turns(scope, limit=limit, **kwargs)
        every = self.model.search_turns(scope, limit=10_000, **kwargs)
        assert_turn_hits(got, scope, {h.id for h in every}, limit=limit)
        for h in got:
            assert isinstance(h.item, Turn) and turn_in_scope(h.item, scope)
        self._compare_ranking(got, every, kwargs, limit)

    @rule(e=index(0, N_ENTITIES - 1))
    def export(self, e: int) -> None:
        got, want = self.both("export", self.entities[e])
        assert_same_records(list(got), list(want))

    @rule()
    def outbox_pending(self) -> None:
        mine = set(self.entities)
        got = [t for t in self.store.outbox_pending(100_000) if t.entity_id in mine]
        want = self.model.outbox_pending(100_000)
        assert_same_turns(got, want)

    @invariant()
    def each_entity_counts_the_same(self) -> None:
        """After every step, a cheap look at each entity: its persona-less memories
        (history included) and one persona's turns; the rules check the rest."""
        for e in range(N_ENTITIES):
            scope = self.scope(e, 0)
            got, want = self.both("count_memories", scope, include_superseded=True)
            assert got == want, f"count_memories({scope}, include_superseded=True)"
            scope = self.scope(e, 1)
            got, want = self.both("count_turns", scope)
            assert got == want, f"count_turns({scope})"

    # search comparison

    def _search_kwargs(
        self, mode: str, query: str, vector: tuple[float, ...]
    ) -> dict[str, Any] | None:
        text_ok = self.text and mode in ("text", "both")
        vector_ok = self.vector and mode in ("vector", "both")
        if mode == "both" and not (text_ok and vector_ok):
            return None
        kwargs: dict[str, Any] = {}
        if text_ok:
            kwargs["text"] = query
        if vector_ok:
            kwargs["vector"] = vector
        return kwargs or None

    def _compare_ranking(self, got: Sequence[Hit], every: Sequence[Hit],
                         kwargs: dict[str, Any], limit: int) -> None:
        assert_ranked(list(got), limit)
        exact = self.exact_vector or "vector" not in kwargs
        if exact:
            assert len(got) == min(limit, len(every)), (
                f"search {kwargs} limit={limit}: {len(got)} hits, {len(every)} items match"
            )
        if set(kwargs) == {"vector"}:
            scores = {h.id: h.score for h in every}
            for h in got:
                assert h.score == pytest.approx(scores[h.id], abs=SCORE_TOLERANCE), (
                    f"vector score of {h.id!r}"
                )
            if exact:
                best = [h.score for h in every[:limit]]
                assert [h.score for h in got] == pytest.approx(best, abs=SCORE_TOLERANCE), (
                    "vector search did not return the nearest items"
                )


class StatefulTests:
    """The random walk, as one test."""

    @isolation
    def test_random_operations_agree_with_the_reference(self, store: MemoryStore) -> None:
        machine = type("Machine", (ReferenceMachine,), {"store": store})
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                database=None, print_blob=True, report_multiple_bugs=False, phases=PHASES,
                suppress_health_check=list(HealthCheck),
            ),
        )
