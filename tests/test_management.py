"""Managing memories through Memori: list, get, update, delete, history, forget by grain,
recall filters; always inside the scope's visibility."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from memori import Memori, NotFoundError
from memori.core import Memory, Scope, Turn
from memori.testing import OpenAIServer


@pytest.fixture
def mem(sqlite_url: str) -> Iterator[Memori]:
    m = Memori(sqlite_url, embedder="hash", extractor=None)
    yield m
    m.close()


def contents(items: list) -> list[str]:
    return [i.content for i in items]


def test_list_memories_is_newest_first_and_pages(mem: Memori) -> None:
    mem.attribution("alice")
    for i in range(5):
        mem.remember(f"note {i}")
    assert contents(mem.list_memories()) == [f"note {i}" for i in (4, 3, 2, 1, 0)]
    assert contents(mem.list_memories(limit=2, offset=1)) == ["note 3", "note 2"]
    assert mem.list_memories(offset=5) == []
    assert contents(mem.memories()) == [f"note {i}" for i in range(5)]  # unchanged: oldest first
    with pytest.raises(ValueError, match="offset"):
        mem.list_memories(offset=-1)
    with pytest.raises(ValueError, match="limit"):
        mem.list_memories(limit=0)


def test_list_memories_filters_by_kind_metadata_time_and_text(mem: Memori) -> None:
    mem.attribution("alice")
    old = Memory("alice", "Runs on Tuesdays", kind="habit", created_at=1_000.0,
                 metadata={"source": "import", "n": 1})
    mem.store.put_memories([old])
    goal = mem.remember("Goal: sub-25 5K by June", kind="goal", metadata={"source": "chat"})
    note = mem.remember("likes TEMPO runs", metadata={"source": "chat", "n": 2})
    assert contents(mem.list_memories(kind="goal")) == [goal.content]
    assert contents(mem.list_memories(metadata={"source": "chat"})) == [note.content, goal.content]
    assert contents(mem.list_memories(metadata={"source": "chat", "n": 2})) == [note.content]
    assert contents(mem.list_memories(metadata={"missing": None})) == []
    assert contents(mem.list_memories(contains="tempo")) == [note.content]
    assert contents(mem.list_memories(until=2_000.0)) == [old.content]
    since = datetime.fromtimestamp(2_000, tz=timezone.utc)
    assert old.content not in contents(mem.list_memories(since=since))
    with pytest.raises(ValueError, match="since"):
        mem.list_memories(since="yesterday")
    with pytest.raises(ValueError, match="since must not be later"):
        mem.list_memories(since=5.0, until=1.0)


def test_a_persona_lists_its_own_persona_less_and_shared_memories_only(mem: Memori) -> None:
    mem.remember("open to all", entity_id="alice")
    mem.remember("coach own", entity_id="alice", process_id="coach")
    mem.remember("planner own", entity_id="alice", process_id="planner")
    mem.remember("planner shared", entity_id="alice", process_id="planner", shared=True)
    mem.remember("bob's", entity_id="bob")
    coach = set(contents(mem.list_memories(entity_id="alice", process_id="coach")))
    assert coach == {"open to all", "coach own", "planner shared"}
    assert set(contents(mem.list_memories(entity_id="alice"))) == {"open to all",
                                                                   "planner shared"}
    assert contents(mem.list_memories(entity_id="bob")) == ["bob's"]


def test_get_memory_of_another_entity_or_persona_is_none(mem: Memori) -> None:
    secret = mem.remember("coach secret", entity_id="alice", process_id="coach")
    assert mem.get_memory(secret.id, entity_id="alice", process_id="coach") == secret
    assert mem.get_memory(secret.id, entity_id="alice", process_id="planner") is None
    assert mem.get_memory(secret.id, entity_id="alice") is None
    assert mem.get_memory(secret.id, entity_id="bob", process_id="coach") is None
    assert mem.get_memory("no-such-id", entity_id="alice") is None
    with pytest.raises(ValueError):
        mem.get_memory("", entity_id="alice")


def test_updated_content_is_embedded_and_searched_by_its_new_words(mem: Memori) -> None:
    mem.attribution("alice", "coach")
    m = mem.remember("Lives in Berlin")
    mem.remember("Owns a bicycle")
    updated = mem.update_memory(m.id, content="Lives in Lisbon", metadata={"edited": True})
    assert updated.id == m.id and updated.content == "Lives in Lisbon"
    assert updated.metadata == {"edited": True} and updated.updated_at is not None
    assert mem.embedder is not None
    stored = mem.store.get_memory(mem.scope(), m.id)
    assert stored is not None and stored.embedding is not None
    assert stored.embedding == pytest.approx(mem.embedder.embed(["Lives in Lisbon"])[0], abs=1e-5)
    assert contents(mem.recall("Lisbon", limit=1)) == ["Lives in Lisbon"]
    assert "Lives in Berlin" not in contents(mem.recall("Berlin"))
    again = mem.update_memory(m.id, kind="place", shared=True)
    assert (again.kind, again.shared, again.content) == ("place", True, "Lives in Lisbon")
    assert mem.update_memory(m.id) == again  # nothing to change


def test_update_of_a_memory_the_scope_does_not_see_is_not_found(mem: Memori) -> None:
    secret = mem.remember("coach secret", entity_id="alice", process_id="coach")
    for entity, persona in (("bob", "coach"), ("alice", "planner"), ("alice", None)):
        with pytest.raises(NotFoundError, match="no memory"):
            mem.update_memory(secret.id, content="pwned", entity_id=entity, process_id=persona)
        assert mem.delete_memory(secret.id, entity_id=entity, process_id=persona) is False
    with pytest.raises(LookupError):  # NotFoundError is a LookupError
        mem.update_memory("absent", content="x", entity_id="alice")
    kept = mem.get_memory(secret.id, entity_id="alice", process_id="coach")
    assert kept is not None and kept.content == "coach secret"


def test_update_memory_names_a_bad_argument(mem: Memori) -> None:
    mem.attribution("alice")
    m = mem.remember("a note")
    for kwargs, field in (({"content": "  "}, "content"), ({"content": 5}, "content"),
                          ({"kind": ""}, "kind"), ({"shared": "yes"}, "shared"),
                          ({"metadata": {"x": float("nan")}}, "metadata")):
        with pytest.raises(ValueError, match=field):
            mem.update_memory(m.id, **kwargs)


def test_delete_memory_removes_it_from_lists_and_search(mem: Memori) -> None:
    mem.attribution("alice")
    m = mem.remember("zebra crossing")
    assert mem.delete_memory(m.id) is True
    assert mem.delete_memory(m.id) is False
    assert mem.get_memory(m.id) is None
    assert mem.recall("zebra") == [] and mem.list_memories() == []


def test_memory_history_is_the_chain_oldest_first(mem: Memori) -> None:
    scope = Scope("alice", "coach")
    newest = Memory("alice", "Lives in Lisbon", process_id="coach", created_at=3.0)
    middle = Memory("alice", "Lives in Paris", process_id="coach", created_at=2.0,
                    superseded_by=newest.id)
    first = Memory("alice", "Lives in Berlin", process_id="coach", created_at=1.0,
                   superseded_by=middle.id)
    unrelated = Memory("alice", "Owns a bicycle", process_id="coach", created_at=1.5)
    mem.store.put_memories([newest, middle, first, unrelated])
    for start in (first, middle, newest):
        chain = mem.memory_history(start.id, entity_id=scope.entity_id, process_id="coach")
        assert contents(chain) == ["Lives in Berlin", "Lives in Paris", "Lives in Lisbon"]
    assert contents(mem.memory_history(unrelated.id, entity_id="alice",
                                       process_id="coach")) == ["Owns a bicycle"]
    with pytest.raises(NotFoundError):
        mem.memory_history(first.id, entity_id="bob", process_id="coach")


def _conversation(mem: Memori, entity: str, persona: str | None, session: str) -> list[Turn]:
    turns = [Turn(entity, session, "user", f"{persona} {session} falcon", process_id=persona)]
    mem.record(turns)
    return turns


def _write_world(mem: Memori) -> dict[str, Memory]:
    """Turns of two personas and the persona-less conversation in two sessions each, and
    memories of every origin; bob holds the same."""
    turns = {}
    for entity in ("alice", "bob"):
        for persona in (None, "coach", "planner"):
            for session in ("s1", "s2"):
                turns[entity, persona, session] = _conversation(mem, entity, persona, session)[0]
    assert mem.flush(10)
    made: dict[str, Memory] = {}
    for entity in ("alice", "bob"):
        coach_s1 = turns[entity, "coach", "s1"].id
        coach_s2 = turns[entity, "coach", "s2"].id
        items = {
            "open": Memory(entity, "open note"),
            "coach": Memory(entity, "coach note", process_id="coach"),
            "coach shared": Memory(entity, "coach shared", process_id="coach", shared=True),
            "planner": Memory(entity, "planner note", process_id="planner"),
            "from s1": Memory(entity, "from coach s1", process_id="coach",
                              source_turn_ids=(coach_s1,), session_id="s1"),
            "from both": Memory(entity, "from coach s1 and s2", process_id="coach",
                                source_turn_ids=(coach_s1, coach_s2), session_id="s1"),
        }
        mem.store.put_memories(list(items.values()))
        if entity == "alice":
            made = items
    return made


def _everything(mem: Memori, entity: str) -> set[str]:
    return {f"{type(i).__name__}:{i.content}" for i in mem.store.scan(entity)}


def test_forget_a_persona_keeps_the_persona_less_and_other_personas(mem: Memori) -> None:
    _write_world(mem)
    bob = _everything(mem, "bob")
    before = _everything(mem, "alice")
    removed = mem.forget(entity_id="alice", process_id="coach")
    after = _everything(mem, "alice")
    assert before - after == {"Turn:coach s1 falcon", "Turn:coach s2 falcon",
                              "Memory:coach note", "Memory:coach shared",
                              "Memory:from coach s1", "Memory:from coach s1 and s2"}
    assert removed == 6
    assert _everything(mem, "bob") == bob


def test_forget_a_session_removes_its_turns_and_the_memories_from_it_alone(
    mem: Memori,
) -> None:
    _write_world(mem)
    bob = _everything(mem, "bob")
    before = _everything(mem, "alice")
    assert mem.forget(entity_id="alice", process_id="coach", session_id="s1") == 2
    assert before - _everything(mem, "alice") == {"Turn:coach s1 falcon",
                                                  "Memory:from coach s1"}
    assert mem.forget(entity_id="alice", session_id="s2") == 3  # every persona's s2
    assert not any(" s2 falcon" in i for i in _everything(mem, "alice"))
    assert "Memory:from coach s1 and s2" in _everything(mem, "alice")  # remembered elsewhere
    assert _everything(mem, "bob") == bob


def test_forget_one_memory_finds_a_personas_memory_without_the_persona(mem: Memori) -> None:
    made = _write_world(mem)
    assert mem.forget(entity_id="bob", memory_id=made["coach"].id) == 0  # alice's id
    assert mem.forget(entity_id="alice", memory_id=made["coach"].id) == 1
    assert mem.forget(entity_id="alice", process_id="planner",
                      memory_id=made["planner"].id) == 1
    assert mem.forget(entity_id="alice", memory_id=made["planner"].id) == 0
    assert "Memory:coach note" in _everything(mem, "bob")
    with pytest.raises(ValueError, match="not both"):
        mem.forget(entity_id="alice", session_id="s1", memory_id=made["open"].id)


def test_forget_the_whole_entity_still_works(mem: Memori) -> None:
    _write_world(mem)
    assert mem.forget(entity_id="alice") == 12
    assert _everything(mem, "alice") == set()
    assert _everything(mem, "bob")


def test_recall_filters_rank_more_candidates_until_enough_pass(mem: Memori) -> None:
    mem.attribution("alice")
    mem.store.put_memories([Memory("alice", f"running note {i} about running", kind="note",
                                   metadata={"n": i}) for i in range(60)])
    goal = mem.remember("a running goal", kind="goal")
    old = replace(Memory("alice", "running in 1970", kind="event"), created_at=1_000.0)
    mem.store.put_memories([old])
    assert contents(mem.recall("running", kind="goal", limit=1)) == [goal.content]
    assert contents(mem.recall("running", metadata={"n": 7})) == ["running note 7 about running"]
    assert contents(mem.recall("running", until=2_000.0)) == [old.content]
    assert old.content not in contents(mem.recall("running", since=2_000.0, limit=50))
    assert mem.recall("running", kind="nothing-of-this-kind") == []


def test_recall_can_keep_only_what_every_persona_shares(mem: Memori) -> None:
    mem.attribution("alice", "coach")
    own = mem.remember("coach note: tempo runs on Tuesdays")
    shared = mem.remember("shared note: runs on Tuesdays and Fridays", shared=True)
    everyone = mem.remember("alice runs on Tuesdays", process_id=None)
    assert set(contents(mem.recall("runs Tuesdays", shared=True))) == {
        shared.content, everyone.content}
    assert contents(mem.recall("runs Tuesdays", shared=False)) == [own.content]
    with pytest.raises(ValueError, match="shared"):
        mem.recall("runs", shared="yes")  # type: ignore[arg-type]


def test_async_twins_keep_the_callers_scope(mem: Memori) -> None:
    async def main() -> None:
        mem.attribution("alice", "coach")
        m = await mem.aremember("async note")
        assert contents(await mem.alist_memories()) == ["async note"]
        assert await mem.aget_memory(m.id) == m
        assert (await mem.aupdate_memory(m.id, content="edited")).content == "edited"
        assert contents(await mem.amemory_history(m.id)) == ["edited"]
        assert await mem.adelete_memory(m.id) is True
        await mem.aremember("to forget")
        assert await mem.aforget(entity_id="alice", process_id="coach") == 1
        assert await mem.alist_memories() == []

    asyncio.run(main())


def test_forgetting_a_session_drops_its_cached_history_from_the_llm_path(
    mem: Memori, openai_server: OpenAIServer,
) -> None:
    client = mem.llm.register(openai_server.client())

    def say(text: str) -> None:
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": text}])

    mem.attribution("u1", "coach", session_id="s1")
    say("my locker code is 8812")
    assert mem.forget(entity_id="u1", process_id="coach", session_id="s1") == 2
    say("what is my locker code?")
    sent = "\n".join(str(m.get("content")) for m in openai_server.last_request("chat").messages)
    assert "8812" not in sent
    client.close()


def test_forgetting_a_persona_clears_its_set_aside_turns_and_keeps_the_others(
    mem: Memori,
) -> None:
    from memori.pipeline import journal as journals

    journal = mem.pipeline.recorder.journal
    assert journal is not None
    journal.reject(Turn("zed", "s", "user", "zebracorn coach", process_id="coach"), "x")
    journal.reject(Turn("zed", "s", "user", "zebracorn planner", process_id="planner"), "x")
    journal.reject(Turn("amy", "s", "user", "zebracorn amy", process_id="coach"), "x")
    rejected = journal.directory / journals.REJECTED
    mem.forget(entity_id="zed", process_id="coach")
    assert b"zebracorn coach" not in rejected.read_bytes()
    assert b"zebracorn planner" in rejected.read_bytes()
    mem.forget(entity_id="zed", session_id="s")
    assert b"zebracorn planner" not in rejected.read_bytes()
    assert b"zebracorn amy" in rejected.read_bytes()


def test_forgetting_a_grain_leaves_nothing_in_flight_for_it(mem: Memori) -> None:
    mem.pipeline.inflight.add([Turn("u", "s1", "user", "a", process_id="coach", id="t1"),
                               Turn("u", "s2", "user", "b", process_id="coach", id="t2"),
                               Turn("u", "s1", "user", "c", process_id="planner", id="t3")])
    mem.forget(entity_id="u", session_id="s1")
    assert mem.pipeline.inflight.ids("u") == {"t2"}
    mem.forget(entity_id="u", process_id="coach")
    assert mem.pipeline.inflight.ids("u") == set()
