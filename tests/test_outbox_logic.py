"""The outbox decisions both workers share: batching by entity, retries, parking, ids."""

from __future__ import annotations

from dataclasses import replace

from memori.core import ExtractState, Memory, Turn
from memori.pipeline.outbox_logic import (
    OutboxPolicy,
    derived_id,
    parked_count,
    stamp_ids,
)


def turn(entity: str, text: str, attempts: int = 0) -> Turn:
    return Turn(entity_id=entity, session_id="s", role="user", content=text,
                extract_attempts=attempts)


def contents(policy: OutboxPolicy, pending: list[Turn]) -> dict[str, list[list[str]]]:
    plan = policy.plan(pending)
    return {j.entity_id: [[t.content for t in b] for b in j.batches] for j in plan.jobs}


def test_turns_are_batched_by_entity_in_order() -> None:
    pending = [turn("a", "a1"), turn("b", "b1"), turn("a", "a2"), turn("b", "b2")]
    assert contents(OutboxPolicy(), pending) == {"a": [["a1", "a2"]], "b": [["b1", "b2"]]}


def test_a_turn_that_failed_before_runs_alone_so_a_poison_turn_parks_no_neighbour() -> None:
    pending = [turn("a", "a1", attempts=1), turn("a", "a2"), turn("a", "a3", attempts=2),
               turn("a", "a4"), turn("a", "a5")]
    assert contents(OutboxPolicy(), pending) == {"a": [["a1"], ["a2"], ["a3"], ["a4", "a5"]]}


def test_an_entity_waiting_for_a_retry_holds_its_newer_turns_back() -> None:
    policy = OutboxPolicy(base_backoff=10.0)
    first, later, other = turn("a", "a1"), turn("a", "a2"), turn("b", "b1")
    policy.failed([first], ValueError("boom"), clock=100.0)
    plan = policy.plan([first, later, other], clock=100.0)
    assert [j.entity_id for j in plan.jobs] == ["b"] and plan.waiting
    # held whole even when the waiting turn comes after a fresh one of the same entity
    plan = policy.plan([later, first, other], clock=100.0)
    assert [j.entity_id for j in plan.jobs] == ["b"]
    assert policy.next_retry_delay(clock=100.0) == 20.0  # 10 s * 2 ** 1 attempt
    due = policy.plan([first, later, other], clock=121.0)
    assert {j.entity_id for j in due.jobs} == {"a", "b"} and not due.waiting


def test_busy_entities_are_skipped_and_reported_as_waiting() -> None:
    plan = OutboxPolicy().plan([turn("a", "a1"), turn("b", "b1")], busy_entities={"a"})
    assert [j.entity_id for j in plan.jobs] == ["b"] and plan.waiting


def test_at_most_batch_size_turns_are_planned_per_read() -> None:
    policy = OutboxPolicy(batch_size=3)
    plan = policy.plan([turn(f"e{i % 2}", str(i)) for i in range(7)])
    assert sum(j.turn_count for j in plan.jobs) == 3 and plan.waiting


def test_the_read_grows_past_turns_that_wait_or_are_in_flight() -> None:
    policy = OutboxPolicy(batch_size=4)
    policy.failed([turn("a", "x"), turn("a", "y")], ValueError("boom"))
    assert policy.fetch_limit(busy_turns=5) == 4 + 2 + 5


def test_failures_back_off_exponentially_then_park_with_the_reason() -> None:
    policy = OutboxPolicy(max_attempts=3, base_backoff=1.0)
    t = turn("a", "a1")
    marks = policy.failed([t], ValueError("model said no"), clock=0.0)
    assert marks[0].state is ExtractState.PENDING and marks[0].attempts == 1
    assert marks[0].error == "ValueError: model said no" and policy.retry_at[t.id] == 2.0
    retried = replace(t, extract_attempts=1)
    assert policy.failed([retried], ValueError("again"), clock=0.0)[0].attempts == 2
    assert policy.retry_at[t.id] == 4.0
    last = replace(t, extract_attempts=2)
    marks = policy.failed([last], ValueError("x" * 500), clock=0.0)
    assert marks[0].state is ExtractState.PARKED and marks[0].attempts == 3
    assert marks[0].error is not None and len(marks[0].error) < 250
    assert t.id not in policy.retry_at and parked_count(marks) == 1


def test_success_forgets_retry_times_and_marks_the_batch_done() -> None:
    policy = OutboxPolicy()
    a1, a2 = turn("a", "a1"), turn("a", "a2")
    policy.failed([a1], ValueError("boom"))
    mark = policy.succeeded([a1, a2])
    assert mark.state is ExtractState.DONE and mark.turn_ids == (a1.id, a2.id)
    assert policy.retry_at == {}


def test_due_retry_times_of_turns_gone_from_the_outbox_are_dropped() -> None:
    """A forgotten entity's turn must not keep the worker polling for a retry forever."""
    policy = OutboxPolicy(base_backoff=1.0)
    gone, stays = turn("a", "gone"), turn("b", "stays")
    policy.failed([gone, stays], ValueError("boom"), clock=0.0)
    policy.plan([stays], clock=10.0)
    assert set(policy.retry_at) == {stays.id}
    assert policy.next_retry_delay(clock=10.0) is None  # nothing due in the future


def test_derived_ids_are_stable_and_distinct() -> None:
    turns = [turn("a", "I live in Oslo."), turn("a", "I like tea.")]
    candidates = [Memory(entity_id="a", content="Lives in Oslo."),
                  Memory(entity_id="a", content="Likes tea.")]
    once, again = stamp_ids(candidates, turns), stamp_ids(candidates, turns)
    assert [m.id for m in once] == [m.id for m in again]
    assert len({m.id for m in once}) == 2
    assert once[0].id == derived_id([t.id for t in turns], 0, "Lives in Oslo.")
    sourced = Memory(entity_id="a", content="Likes tea.", source_turn_ids=(turns[1].id,))
    assert stamp_ids([sourced], turns)[0].id == derived_id([turns[1].id], 0, "Likes tea.")

