"""The conformance suite catches leaks: it fails deliberately broken stores, where it should.

Seven broken versions of the in-memory reference store (each one realistic bug)
run the whole suite in a child pytest (asyncio in strict mode, as in a
third-party project without ``asyncio_mode=auto``); the healthy reference runs
beside them and must pass everything. The guard is checked in process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from memori.conformance import StoreConformance
from memori.conformance.guard import GuardTests, violations
from memori.conformance.reference import InMemoryDatabase, InMemoryStore
from memori.core import Hit, Memory, Scope, Turn, check_id

CHILD = "MEMORI_CONFORMANCE_CHILD"
"""Set in the child run: "stores" defines the broken stores' test classes, "xfail" one more."""


class PersonaFilterDropped(InMemoryStore):
    """Forgets the persona filter: every memory of the entity is visible to every persona."""

    def _persona_visible(self, memory: Memory, scope: Scope) -> bool:
        return True


class IdsMatchedByPrefix(InMemoryStore):
    """Compares entity ids like ``LIKE 'id%'``: an entity sees entities its id is a prefix of."""

    def _entity_matches(self, stored: str, wanted: str) -> bool:
        return stored.startswith(wanted)


class ForgetLeavesRows(InMemoryStore):
    """Forget deletes turns and current memories but leaves superseded ones (history) behind."""

    def forget(self, entity_id: str) -> int:
        self._check_ready()
        check_id(entity_id, "entity_id")
        with self.db.lock:
            turns = [k for k in self.db.turns if k[0] == entity_id]
            memories = [
                k for k, m in self.db.memories.items()
                if k[0] == entity_id and m.superseded_by is None
            ]
            for key in turns:
                del self.db.turns[key]
            for key in memories:
                del self.db.memories[key]
        return len(turns) + len(memories)


LARGE = 100
"""Above this limit the broken search takes its "bulk" plan, which forgets the entity."""


class EntityDroppedOnLargeSearch(InMemoryStore):
    """Searches with a large limit (recall asks for ``max(20, limit)``) skip the entity filter."""

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        if limit <= LARGE:
            return super().search_turns(scope, text=text, vector=vector, limit=limit)
        with self.db.lock:
            found = [
                t for t in self.db.turns.values()
                if t.process_id == scope.process_id
                and (scope.session_id is None or t.session_id == scope.session_id)
            ]
        return [Hit(t, s, sig) for t, s, sig in self._rank(found, text, vector, limit)]

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        if limit <= LARGE:
            return super().search_memories(scope, text=text, vector=vector, limit=limit,
                                           include_superseded=include_superseded)
        with self.db.lock:
            found = [
                m for m in self.db.memories.values()
                if self._persona_visible(m, scope)
                and (include_superseded or m.superseded_by is None)
            ]
        return [Hit(m, s, sig) for m, s, sig in self._rank(found, text, vector, limit)]


class RecentTurnsIgnoreSession(InMemoryStore):
    """Offers the optional ``recent_turns`` fast path, but reads the persona's every session."""

    def recent_turns(self, scope: Scope, *, limit: int) -> list[Turn]:
        return self.list_turns(scope.with_session(None), limit=limit)


class AsyncLimitedTurnsIgnoreSession(InMemoryStore):
    """``alist_turns`` with a limit (the async retriever's read) forgets the session."""

    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        if limit is not None:
            scope = scope.with_session(None)
        return await super().alist_turns(scope, limit=limit)


class AsyncHistoryDropsPersona(InMemoryStore):
    """``alist_memories(include_superseded=True)`` lists every memory of the entity."""

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        if not include_superseded:
            return await super().alist_memories(scope, limit=limit, offset=offset)
        await asyncio.sleep(0)
        with self.db.lock:
            found = sorted(
                (m for m in self.db.memories.values() if m.entity_id == scope.entity_id),
                key=lambda m: (m.created_at, m.id),
            )
        return found[offset:None if limit is None else offset + limit]


def _factory(store_type: type[InMemoryStore]) -> Callable[..., InMemoryStore]:
    database = InMemoryDatabase()
    return lambda **options: store_type(database, **options)


if os.environ.get(CHILD):  # the child run: these classes exist only there

    class TestBrokenPersonaFilter(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(PersonaFilterDropped)

    class TestBrokenPrefixIds(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(IdsMatchedByPrefix)

    class TestBrokenForget(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(ForgetLeavesRows)

    class TestBrokenLargeLimitSearch(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(EntityDroppedOnLargeSearch)

    class TestBrokenRecentTurns(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(RecentTurnsIgnoreSession)

    class TestBrokenAsyncLimitedTurns(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(AsyncLimitedTurnsIgnoreSession)

    class TestBrokenAsyncHistory(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(AsyncHistoryDropsPersona)

    class TestHealthyReference(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(InMemoryStore)

if os.environ.get(CHILD) == "xfail":

    @pytest.mark.xfail(reason="hiding failures of a whole class")
    class TestBrokenXfailedClass(StoreConformance):
        @pytest.fixture
        def make_store(self) -> Callable[..., InMemoryStore]:
            return _factory(InMemoryStore)


Outcomes = dict[str, dict[str, str]]


def _run_child(tmp_path: Path, mode: str, select: str) -> tuple[int, Outcomes, str]:
    """Run this file's broken classes in a child pytest; outcome per class and test."""
    report = tmp_path / f"{mode}.xml"
    env = {**os.environ, CHILD: mode, "MEMORI_CONFORMANCE_SHRINK": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-k", select,
         "-o", "asyncio_mode=strict", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )
    outcomes: Outcomes = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            cls = case.get("classname", "").rsplit(".", 1)[-1]
            name = case.get("name", "").split("[", 1)[0]
            tags = {child.tag for child in case}
            outcome = next((t for t in ("failure", "error", "skipped") if t in tags), "passed")
            previous = outcomes.setdefault(cls, {}).get(name, "passed")
            outcomes[cls][name] = outcome if previous == "passed" else previous
    return proc.returncode, outcomes, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    code, outcomes, output = _run_child(
        tmp_path_factory.mktemp("conformance"), "stores", "TestBroken or TestHealthy"
    )
    assert code == 1, f"the child run should fail (exit 1), got {code}:\n{output[-3000:]}"
    return outcomes


def _failed(outcomes: Outcomes, cls: str) -> set[str]:
    return {name for name, outcome in outcomes[cls].items() if outcome in ("failure", "error")}


def test_healthy_reference_passes_the_whole_suite_in_strict_asyncio_mode(
    child: Outcomes,
) -> None:
    results = child["TestHealthyReference"]
    assert len(results) > 60
    assert {n: o for n, o in results.items() if o != "passed"} == {
        "test_admin_vacuum_keeps_live_data_and_no_forgotten_row": "skipped",  # it has none
    }


def test_dropped_persona_filter_is_caught(child: Outcomes) -> None:
    failed = _failed(child, "TestBrokenPersonaFilter")
    assert {
        "test_memory_reads_respect_entity_and_persona",
        "test_memory_search_respects_entity_and_persona",
        "test_memory_update_reaches_only_visible_memories",
        "test_memory_delete_reaches_only_visible_memories",
        "test_hostile_persona_ids_stay_apart",
        "test_async_paths_respect_the_scope",
        "test_threads_sharing_a_handle_never_see_each_other",
        "test_random_operations_agree_with_the_reference",
    } <= failed
    assert "test_turn_reads_respect_entity_persona_and_session" not in failed, "turns are fine"
    assert "test_isolation_tests_are_intact" not in failed


def test_ids_matched_by_prefix_are_caught(child: Outcomes) -> None:
    failed = _failed(child, "TestBrokenPrefixIds")
    assert {
        "test_hostile_entity_ids_round_trip_and_stay_apart",
        "test_memory_reads_respect_entity_and_persona",
        "test_turn_reads_respect_entity_persona_and_session",
        "test_turn_export_holds_only_the_entity",
        "test_forget_of_a_hostile_id_removes_exactly_that_entity",
        "test_outbox_mark_stays_inside_the_entity",
        "test_random_operations_agree_with_the_reference",
    } <= failed
    assert "test_turns_round_trip_every_field" not in failed


def test_forget_that_leaves_rows_is_caught(child: Outcomes) -> None:
    failed = _failed(child, "TestBrokenForget")
    assert {
        "test_forget_leaves_no_trace_of_the_entity",
        "test_forget_twice_then_write_again",
        "test_random_operations_agree_with_the_reference",
    } <= failed
    assert "test_memory_reads_respect_entity_and_persona" not in failed


def test_search_that_drops_the_entity_on_large_limits_is_caught(child: Outcomes) -> None:
    failed = _failed(child, "TestBrokenLargeLimitSearch")
    assert {
        "test_turn_limits_never_widen_the_scope",
        "test_memory_limits_never_widen_the_scope",
        "test_async_turn_limits_never_widen_the_scope",
        "test_async_memory_history_and_limits_respect_the_scope",
    } <= failed
    assert "test_turn_search_respects_entity_persona_and_session" not in failed, "limit=100 is fine"


def test_recent_turns_that_ignore_the_session_are_caught(child: Outcomes) -> None:
    """By the history test, and again by the same checks inside shared reads."""
    assert _failed(child, "TestBrokenRecentTurns") == {
        "test_recent_turns_read_one_conversation", "test_shared_reads_keep_every_scopes_rules"}


def test_async_limited_history_that_ignores_the_session_is_caught(child: Outcomes) -> None:
    assert _failed(child, "TestBrokenAsyncLimitedTurns") == {
        "test_async_turn_limits_never_widen_the_scope"
    }


def test_async_history_that_drops_the_persona_is_caught(child: Outcomes) -> None:
    assert _failed(child, "TestBrokenAsyncHistory") == {
        "test_async_memory_history_and_limits_respect_the_scope"
    }


def test_xfail_on_a_whole_class_stops_the_run(tmp_path: Path) -> None:
    code, _, output = _run_child(tmp_path, "xfail", "TestBrokenXfailedClass")
    assert code == 1
    assert "isolation tests cannot be xfailed" in output


# the guard, in process


ISOLATION_TEST = "test_forget_leaves_no_trace_of_the_entity"
STANDARD_TEST = "test_turns_round_trip_every_field"


def _subclass(**body: Any) -> type[StoreConformance]:
    return type("TestSomeBackend", (StoreConformance,), dict(body))


def _noop() -> Callable[..., None]:
    """A fresh do-nothing test (marks are stored on the function, so never share one)."""

    def test(self: object, *args: Any) -> None:
        return None

    return test


def test_redefining_an_isolation_test_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match=ISOLATION_TEST):
        _subclass(**{ISOLATION_TEST: _noop()})
    with pytest.raises(TypeError, match="test_isolation_tests_are_intact"):
        _subclass(test_isolation_tests_are_intact=_noop())
    with pytest.raises(TypeError, match=ISOLATION_TEST):
        _subclass(**{ISOLATION_TEST: None})


def test_guard_fails_an_isolation_test_replaced_after_creation() -> None:
    cls = _subclass()
    assert violations(cls, GuardTests._ORIGINALS or {}) == []
    setattr(cls, ISOLATION_TEST, _noop())
    with pytest.raises(AssertionError, match=f"isolation test {ISOLATION_TEST} was overridden"):
        cls().test_isolation_tests_are_intact()


def test_guard_fails_a_skip_mark_on_an_isolation_test(monkeypatch: pytest.MonkeyPatch) -> None:
    original = getattr(StoreConformance, ISOLATION_TEST)
    monkeypatch.setattr(original, "pytestmark", [pytest.mark.skip(reason="flaky").mark],
                        raising=False)
    with pytest.raises(AssertionError, match="is marked skip"):
        _subclass()().test_isolation_tests_are_intact()


def test_guard_allows_a_standard_test_overridden_only_with_xfail() -> None:
    plain = _subclass(**{STANDARD_TEST: _noop()})
    with pytest.raises(AssertionError, match="overridden without"):
        plain().test_isolation_tests_are_intact()
    marked = _subclass(**{STANDARD_TEST: pytest.mark.xfail(reason="known gap")(_noop())})
    marked().test_isolation_tests_are_intact()
