"""Augmentation on SQLite: durable outbox, flush, dedup, supersession, LLM extractor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memori import Memori
from memori.core import ExtractState, Memory, Scope, Turn
from memori.core.errors import FlushError
from memori.extractors import LLMExtractor, OfflineExtractor
from memori.extractors.llm import ExtractionError, parse_output
from memori.testing.openai_server import OpenAIServer


def user_turn(mem: Memori, text: str) -> Turn:
    scope = mem.scope()
    assert scope.session_id is not None
    return Turn(entity_id=scope.entity_id, process_id=scope.process_id,
                session_id=scope.session_id, role="user", content=text)


def current_contents(mem: Memori) -> list[str]:
    return [m.content for m in mem.memories()]


def test_turn_facts_are_recalled_at_the_next_turn_after_flush(mem: Memori) -> None:
    mem.attribution(entity_id="alice", process_id="coach")
    mem.record([user_turn(mem, "Goal: sub-25 5K by June. What should I eat today?")])
    assert mem.flush(timeout=30)
    hits = mem.recall("running goal 5K")
    assert "Goal: sub-25 5K by June." in [h.content for h in hits if h.kind == "memory"]
    assert mem.metrics.processed == 1 and mem.metrics.queued == 0


def test_the_same_fact_twice_is_one_memory_seen_twice(mem: Memori) -> None:
    mem.attribution(entity_id="bob")
    mem.record([user_turn(mem, "I love sourdough bread.")])
    mem.flush(timeout=30)
    mem.record([user_turn(mem, "i love sourdough bread!")])
    mem.flush(timeout=30)
    memories = mem.memories()
    assert [m.content for m in memories] == ["I love sourdough bread."]
    assert memories[0].count == 2 and memories[0].last_seen_at is not None
    assert len(memories[0].source_turn_ids) == 2


def test_a_newer_fact_supersedes_the_older_one_which_stays_as_history(mem: Memori) -> None:
    mem.attribution(entity_id="carol")
    mem.record([user_turn(mem, "I live in Berlin.")])
    mem.flush(timeout=30)
    mem.record([user_turn(mem, "I live in Paris now.")])
    mem.flush(timeout=30)
    assert current_contents(mem) == ["I live in Paris now."]
    assert [h.content for h in mem.recall("where do I live") if h.kind == "memory"] == [
        "I live in Paris now."
    ]
    history = mem.memories(include_history=True)
    old = next(m for m in history if m.content == "I live in Berlin.")
    new = next(m for m in history if m.content == "I live in Paris now.")
    assert old.superseded_by == new.id and new.superseded_by is None
    with_history = [h.content for h in mem.recall("live", include_history=True)]
    assert "I live in Berlin." in with_history


def test_llm_extractor_through_the_real_openai_client(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    from openai import OpenAI

    from memori.testing.openai_script import Reply

    client = OpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    answer = {"memories": [
        {"content": "The user is vegetarian.", "kind": "preference", "shared": True,
         "slot": None},
        {"content": "The user trains for a marathon.", "kind": "goal", "shared": False,
         "slot": "goal:running"},
    ]}
    openai_server.enqueue(Reply.json(answer), model="extractor")
    with Memori(sqlite_url, embedder="hash", extractor=LLMExtractor(client, "extractor")) as mem:
        mem.attribution(entity_id="dan", process_id="coach")
        mem.record([user_turn(mem, "I'm vegetarian and I train for a marathon.")])
        assert mem.flush(timeout=30)
        got = {m.content: m for m in mem.memories()}
        assert set(got) == {"The user is vegetarian.", "The user trains for a marathon."}
        assert got["The user is vegetarian."].shared is True
        assert got["The user trains for a marathon."].kind == "goal"
        mem.attribution(entity_id="dan", process_id="planner")
        assert [m.content for m in mem.memories()] == ["The user is vegetarian."]
    request = openai_server.chat_requests()[-1]
    assert request.body["model"] == "extractor"
    assert request.body["response_format"]["type"] == "json_schema"
    assert "marathon" in json.dumps(request.body["messages"])


def test_malformed_model_output_is_retried_then_parked_and_the_worker_survives(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    for _ in range(4):
        openai_server.enqueue("this is {not json", model="extractor")
    good = {"memories": [{"content": "The user owns a cat.", "kind": "fact",
                          "shared": False, "slot": None}]}
    from memori.testing.openai_script import Reply

    openai_server.enqueue(Reply.json(good), model="extractor")
    with Memori(sqlite_url, embedder="hash", extractor=LLMExtractor(client, "extractor")) as mem:
        mem.attribution(entity_id="erin")
        bad = user_turn(mem, "gibberish turn")
        mem.record([bad])
        with pytest.raises(FlushError, match=r"1 turn\(s\).*parked.*not JSON") as caught:
            mem.flush(timeout=30)
        assert caught.value.turns == 1 and "gibberish" not in str(caught.value)
        assert mem.metrics.parked == 1 and mem.metrics.failed == 4
        parked = mem.store.list_turns(mem.scope())
        assert parked[0].extract_state is ExtractState.PARKED
        assert parked[0].extract_error and "not JSON" in parked[0].extract_error
        mem.record([user_turn(mem, "I own a cat.")])
        assert mem.flush(timeout=30)
        assert [m.content for m in mem.memories()] == ["The user owns a cat."]


def test_parse_output_rejects_schema_violations() -> None:
    import pytest

    for raw in ["", "[]", '{"memories": [1]}', '{"memories": [{"content": ""}]}',
                '{"memories": [{"content": "x", "kind": "weird"}]}',
                '{"memories": [{"content": "x", "shared": "yes"}]}']:
        with pytest.raises(ExtractionError):
            parse_output(raw)


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from memori import Memori
    from memori.core import Turn

    url, marker = sys.argv[1], Path(sys.argv[2])
    mem = Memori(url, embedder="hash", extractor="offline")
    mem._worker.policy.batch_size = 5
    put = mem.store.put_memories
    writes = 0

    def stalling_put(memories):
        global writes
        put(memories)
        writes += 1
        if writes == 7:  # mid-batch: some of this batch's memories are stored, none marked
            marker.write_text("stalled")
            time.sleep(600)

    mem.store.put_memories = stalling_put
    for i in range(20):
        mem.record([Turn(entity_id=f"user-{i % 3}", session_id="s", role="user",
                         content=f"I keep {i} plants on balcony number {i}.")])
    time.sleep(600)
""")


def test_sigkill_mid_extraction_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    marker = tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), url, str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "child exited early"
            assert time.monotonic() < deadline, "child never reached extraction"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    with Memori(url, embedder="hash", extractor="offline") as mem:
        before = mem.store.admin_stats()
        assert mem.store.outbox_pending(100), f"nothing pending after the crash: {before}"
        assert mem.flush(timeout=60)
        assert mem.store.outbox_pending(100) == []
        for u in range(3):
            scope = Scope(f"user-{u}")
            turns = mem.store.list_turns(scope)
            expected = sorted(m.content for m in OfflineExtractor().extract(turns))
            stored: list[Memory] = mem.store.list_memories(scope)
            assert sorted(m.content for m in stored) == expected
            assert all(m.count == 1 for m in stored)
            assert all(t.extract_state is ExtractState.DONE for t in turns)
