"""The in-process session history: bounded, merged with the store, scoped to the whole scope."""

from __future__ import annotations

from memori import Memori
from memori.core import Scope, Turn
from memori.llm.session import SessionCache


def _turn(scope: Scope, text: str) -> Turn:
    assert scope.session_id is not None
    return Turn(entity_id=scope.entity_id, process_id=scope.process_id,
                session_id=scope.session_id, role="user", content=text)


class CountingLoader:
    """The real store's ``list_turns``, counting how often the cache reads it."""

    def __init__(self, mem: Memori) -> None:
        self.mem = mem
        self.loads = 0

    def __call__(self, scope: Scope, limit: int) -> list[Turn]:
        self.loads += 1
        return self.mem.store.list_turns(scope, limit=limit)


def test_queued_turns_survive_a_reload_that_does_not_have_them_yet(mem: Memori) -> None:
    cache = SessionCache(CountingLoader(mem), ttl=0.0)
    scope = Scope("e", "p", "s")
    mem.store.append_turns([_turn(scope, "written")])
    cache.add(scope, [_turn(scope, "queued")])  # recorded, not yet stored
    assert [t.content for t in cache.recent(scope)] == ["written", "queued"]
    assert [t.content for t in cache.recent(scope)] == ["written", "queued"]


def test_fresh_entries_are_served_without_reading_the_store(mem: Memori) -> None:
    loader = CountingLoader(mem)
    cache = SessionCache(loader, ttl=60.0)
    scope = Scope("e", None, "s")
    assert cache.fresh(scope) is None
    cache.recent(scope)
    cache.recent(scope)
    assert loader.loads == 1 and cache.fresh(scope) == []


def test_scopes_never_share_an_entry(mem: Memori) -> None:
    cache = SessionCache(CountingLoader(mem), ttl=60.0)
    a, b, c = Scope("e1", "p", "s"), Scope("e2", "p", "s"), Scope("e1", "q", "s")
    for scope in (a, b, c):
        cache.recent(scope)
    cache.add(a, [_turn(a, "only for e1/p")])
    assert [t.content for t in cache.recent(a)] == ["only for e1/p"]
    assert cache.recent(b) == [] and cache.recent(c) == []


def test_bounded_in_turns_and_sessions_and_forget_drops_an_entity(mem: Memori) -> None:
    cache = SessionCache(CountingLoader(mem), max_turns=3, max_sessions=2, ttl=60.0)
    s1, s2, s3 = Scope("e", None, "1"), Scope("e", None, "2"), Scope("x", None, "3")
    cache.recent(s1)
    cache.add(s1, [_turn(s1, str(i)) for i in range(5)])
    assert [t.content for t in cache.recent(s1)] == ["2", "3", "4"]
    cache.recent(s2)
    cache.recent(s3)  # evicts the least recently used (s1)
    assert cache.fresh(s1) is None and cache.fresh(s3) == []
    cache.drop_entity("e")
    assert cache.fresh(s2) is None and cache.fresh(s3) == []
