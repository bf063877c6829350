"""The Memori facade on the embedded default: scope, visibility, ids, sessions, contextvars."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from memori import Memori
from memori.config import default_url
from memori.core import InvalidIdError, Memory

BAD_IDS = [None, "", 7, b"alice", {"$ne": ""}, ["a"], "a\x00b", "x" * 256]
TRICKY_IDS = ["a%", "a_", "' OR 1=1 --", '{"$ne": ""}', "$where", ".*", "A", "a"]


def contents(hits: list) -> list[str]:
    return [h.content for h in hits]


def test_remember_recall_finds_a_paraphrase_with_the_local_embedder(sqlite_url: str) -> None:
    with Memori(sqlite_url) as mem:  # the default embedder: the local ONNX model
        assert mem.embedder is not None and mem.embedder.dim == 384
        mem.attribution(entity_id="alice")
        mem.remember("Alice is allergic to peanuts.")
        mem.remember("Alice's favourite band is Radiohead.")
        mem.remember("Alice works as a nurse in Lyon.")
        hits = mem.recall("Which foods must she avoid eating?", limit=1)
        assert contents(hits) == ["Alice is allergic to peanuts."]


def test_text_search_alone_works_without_an_embedder(sqlite_url: str) -> None:
    with Memori(sqlite_url, embedder=None) as mem:
        mem.attribution(entity_id="bob")
        mem.remember("Bob keeps bees on his roof.")
        mem.remember("Bob drives a blue van.")
        assert contents(mem.recall("bees", limit=1)) == ["Bob keeps bees on his roof."]


def test_entity_isolation_holds_both_ways(mem: Memori) -> None:
    mem.attribution(entity_id="alice")
    mem.remember("alice secret: the vault code is 1234")
    mem.attribution(entity_id="bob")
    mem.remember("bob secret: the vault code is 9999")
    assert contents(mem.recall("vault code")) == ["bob secret: the vault code is 9999"]
    mem.attribution(entity_id="alice")
    assert contents(mem.recall("vault code")) == ["alice secret: the vault code is 1234"]


def test_persona_isolation_holds_both_ways_and_shared_memories_cross(mem: Memori) -> None:
    mem.attribution(entity_id="alice", process_id="fitness-coach")
    mem.remember("Goal: sub-25 5K by June.")
    mem.attribution(entity_id="alice", process_id="meal-planner")
    mem.remember("Prefers vegetarian dinners.")
    mem.remember("Allergic to peanuts.", shared=True)
    planner = contents(mem.recall("goal dinners peanuts", limit=10))
    assert "Goal: sub-25 5K by June." not in planner
    assert set(planner) == {"Prefers vegetarian dinners.", "Allergic to peanuts."}
    mem.attribution(entity_id="alice", process_id="fitness-coach")
    coach = contents(mem.recall("goal dinners peanuts", limit=10))
    assert set(coach) == {"Goal: sub-25 5K by June.", "Allergic to peanuts."}
    mem.attribution(entity_id="alice")  # no persona: only persona-free or shared memories
    assert contents(mem.recall("goal dinners peanuts", limit=10)) == ["Allergic to peanuts."]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_bad_ids_raise_value_error_before_any_query(mem: Memori, bad: object) -> None:
    store_calls: list[str] = []
    for name in ("search_memories", "put_memories", "forget", "search_turns"):
        original = getattr(mem.store, name)

        def spy(*a: object, _n: str = name, _o: object = original, **k: object) -> object:
            store_calls.append(_n)
            return _o(*a, **k)  # type: ignore[operator]

        setattr(mem.store, name, spy)
    with pytest.raises(ValueError):
        mem.attribution(entity_id=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mem.attribution(entity_id="ok", process_id=bad if bad is not None else "")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mem.remember("x y z", entity_id=bad if bad is not None else "")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mem.recall("x", entity_id=bad if bad is not None else "")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mem.forget(entity_id=bad)  # type: ignore[arg-type]
    assert store_calls == []
    assert issubclass(InvalidIdError, ValueError)


def test_recall_without_attribution_is_a_clear_error(mem: Memori) -> None:
    with pytest.raises(ValueError, match="attribution"):
        mem.recall("anything")


def test_tricky_ids_round_trip_exactly_and_never_match_each_other(mem: Memori) -> None:
    for eid in TRICKY_IDS:
        mem.remember(f"note of {eid!r} about tulips", entity_id=eid)
    for eid in TRICKY_IDS:
        mem.attribution(entity_id=eid)
        got = mem.memories()
        assert [m.content for m in got] == [f"note of {eid!r} about tulips"]
        assert all(m.entity_id == eid for m in got)
        assert contents(mem.recall("tulips")) == [f"note of {eid!r} about tulips"]
    assert mem.forget(entity_id="a%") >= 1
    mem.attribution(entity_id="a")
    assert len(mem.memories()) == 1


def test_changing_attribution_without_a_session_starts_a_new_session(mem: Memori) -> None:
    mem.attribution(entity_id="alice", process_id="coach")
    first = mem.current.session_id
    mem.attribution(entity_id="alice", process_id="coach")
    assert mem.current.session_id == first  # same attribution: same conversation
    mem.attribution(entity_id="bob", process_id="coach")
    assert mem.current.session_id not in (None, first)
    bob_session = mem.current.session_id
    mem.attribution(entity_id="bob", process_id="planner")
    assert mem.current.session_id != bob_session
    mem.attribution(entity_id="alice", process_id="coach", session_id=first)
    assert mem.current.session_id == first


def test_set_session_and_new_session(mem: Memori) -> None:
    mem.set_session("chosen-before-entity")
    mem.attribution(entity_id="alice")
    assert mem.current.session_id == "chosen-before-entity"
    new = mem.new_session()
    assert mem.current.session_id == new != "chosen-before-entity"
    with pytest.raises(ValueError):
        mem.set_session("")


def test_with_attribution_restores_the_previous_one(mem: Memori) -> None:
    mem.attribution(entity_id="alice", process_id="coach")
    outer = mem.current
    with mem.attribution(entity_id="bob") as inner:
        assert mem.current == inner and inner.entity_id == "bob"
    assert mem.current == outer


def test_threads_and_tasks_each_keep_their_own_attribution(mem: Memori) -> None:
    barrier = threading.Barrier(8)
    seen: dict[str, str | None] = {}

    def worker(i: int) -> None:
        mem.attribution(entity_id=f"user-{i}")
        barrier.wait()
        seen[f"user-{i}"] = mem.current.entity_id

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {k: k for k in seen} and len(seen) == 8

    async def task(i: int) -> str | None:
        mem.attribution(entity_id=f"task-{i}")
        await asyncio.sleep(0)
        await mem.aremember(f"task {i} likes the number {i}")
        hits = await mem.arecall("likes the number")
        assert {h.item.entity_id for h in hits} == {f"task-{i}"}
        return mem.current.entity_id

    async def main() -> list[str | None]:
        return await asyncio.gather(*(task(i) for i in range(20)))

    assert asyncio.run(main()) == [f"task-{i}" for i in range(20)]
    assert mem.current.entity_id is None  # the main thread never set one


def test_forget_erases_only_that_entity(mem: Memori) -> None:
    mem.remember("alpha fact one", entity_id="alpha")
    mem.remember("beta fact one", entity_id="beta")
    assert mem.forget(entity_id="alpha") >= 1
    assert mem.store.raw_count("alpha") == 0
    assert mem.store.raw_count("beta") >= 1


def test_remember_twice_merges_instead_of_duplicating(mem: Memori) -> None:
    mem.attribution(entity_id="carol")
    mem.remember("Carol plays the cello.")
    merged = mem.remember("Carol plays the cello.")
    assert isinstance(merged, Memory) and merged.count == 2
    assert [m.content for m in mem.memories()] == ["Carol plays the cello."]


def test_default_url_is_memori_url_or_a_file_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MEMORI_URL", "sqlite:///elsewhere.db")
    assert default_url() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("MEMORI_URL")
    monkeypatch.setenv("MEMORI_HOME", str(tmp_path / "home"))
    assert default_url() == f"sqlite:///{tmp_path / 'home' / 'memori.db'}"
    with Memori(embedder="hash") as mem:
        mem.remember("stored in the default place", entity_id="d")
    assert (tmp_path / "home" / "memori.db").exists()


def test_async_context_manager_and_twins(sqlite_url: str) -> None:
    async def main() -> None:
        async with Memori(sqlite_url, embedder="hash") as mem:
            mem.attribution(entity_id="eve")
            await mem.aremember("Eve collects stamps.")
            assert contents(await mem.arecall("stamps")) == ["Eve collects stamps."]
            assert await mem.aflush(timeout=10)
            assert await mem.aforget(entity_id="eve") >= 1

    asyncio.run(main())
