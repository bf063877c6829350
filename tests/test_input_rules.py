"""One set of input rules, the same clear error on every backend (issue: bounded, uniform input).

Each bad input a user really sends is tried through the public API on SQLite, the
in-memory store, Qdrant (local), PostgreSQL and MongoDB.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from memori import Memori
from memori.core import InvalidIdError, Scope
from memori.core.inputs import MAX_CONTENT_CHARS
from memori.testing import OpenAIServer

BACKENDS = ["sqlite", "memory", "qdrant", "postgres", "mongo"]


@pytest.fixture(params=BACKENDS)
def mem(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Memori]:
    options: dict[str, str] | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'm.db'}"
    elif request.param == "memory":
        url = "memory://"
    elif request.param == "qdrant":
        url = "qdrant+memory://"
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        options = {"schema": f"rules_{uuid.uuid4().hex[:10]}"}
    else:
        from memori.testing.mongo_server import shared_server

        url = shared_server().url
        options = {"database": f"rules_{uuid.uuid4().hex[:10]}"}
    with Memori(url, embedder="hash", store_options=options) as m:
        yield m


def test_ids_with_lone_surrogates_or_only_whitespace_are_refused(mem: Memori) -> None:
    for bad in ("eve\ud800", "   ", "\t\n", "a\x00b", ""):
        with pytest.raises(InvalidIdError):
            mem.attribution(entity_id=bad)
        with pytest.raises(InvalidIdError):
            mem.remember("hello there", entity_id=bad)
        with pytest.raises(InvalidIdError):
            mem.recall("hello", entity_id=bad)
    with pytest.raises(InvalidIdError, match="process_id"):
        mem.attribution(entity_id="ok", process_id="\udfff")
    mem.remember("ids are compared whole", entity_id=" padded ")  # spaces inside are data
    assert mem.recall("compared", entity_id=" padded ")
    assert not mem.recall("compared", entity_id="padded")


def test_limits_must_be_positive_and_bounded(mem: Memori) -> None:
    mem.remember("I like tea.", entity_id="lim")
    for bad in (0, -1, 1001, 2.5, True, "3"):
        with pytest.raises(ValueError, match="limit"):
            mem.recall("tea", entity_id="lim", limit=bad)
    assert len(mem.recall("tea", entity_id="lim", limit=1)) == 1
    assert mem.recall("tea", entity_id="lim", limit=1000)


def test_metadata_must_be_json_and_finite(mem: Memori) -> None:
    for bad in ({"x": float("nan")}, {"x": float("inf")}, {"x": object()}, {1: "a"},
                {"x": {1, 2}}, {"x": "\ud800"}, ["not", "a", "dict"]):
        with pytest.raises(ValueError, match="metadata"):
            mem.remember("a fact with odd metadata", entity_id="md", metadata=bad)
    stored = mem.remember("a fact with fine metadata", entity_id="md",
                          metadata={"n": 1.5, "tags": ["a", "b"], "nested": {"ok": None}})
    assert dict(stored.metadata) == {"n": 1.5, "tags": ["a", "b"], "nested": {"ok": None}}


def test_text_that_no_backend_can_hold_is_stored_the_same_way_everywhere(mem: Memori) -> None:
    memory = mem.remember("nul \x00 and lone \ud800 here", entity_id="txt")
    assert memory.content == "nul \ufffd and lone \ufffd here"
    assert [m.content for m in mem.store.list_memories(Scope("txt"))] == [memory.content]
    assert mem.recall("lone \ud800", entity_id="txt")  # a query too: no TypeError
    with pytest.raises(ValueError, match="text"):
        mem.remember("   ", entity_id="txt")
    with pytest.raises(ValueError, match="text must be a str"):
        mem.remember(b"bytes", entity_id="txt")  # type: ignore[arg-type]


def test_a_50_mb_memory_is_refused_before_anything_is_written(mem: Memori) -> None:
    huge = "x" * 50_000_000
    started = time.perf_counter()
    with pytest.raises(ValueError, match="more than the limit"):
        mem.remember(huge, entity_id="big")
    assert time.perf_counter() - started < 5  # measured: milliseconds; bound loose for CI
    assert mem.store.list_memories(Scope("big")) == []


def test_a_50_mb_message_through_the_llm_path_is_stored_truncated_and_the_call_succeeds(
    tmp_path_factory: pytest.TempPathFactory, openai_server: OpenAIServer
) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('huge') / 'h.db'}"
    with Memori(url, embedder="hash") as mem:
        client = openai_server.client()
        mem.llm.register(client)
        mem.attribution(entity_id="paste")
        huge = "word " * 10_000_000 + "What is my question?"
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": huge}])
        assert reply.choices[0].message.content  # the model call is untouched
        assert openai_server.last_request("chat").messages[-1]["content"] == huge
        assert mem.flush(timeout=120)
        stored = mem.store.list_turns(Scope("paste", None, mem.current.session_id))[0]
        assert len(stored.content) == MAX_CONTENT_CHARS
        assert stored.metadata["truncated_from"] == len(huge)


@pytest.mark.parametrize("bad", [
    {"retriever": "nope"}, {"recall_limit": 0}, {"read_your_writes": -1},
    {"durability": "disk"}, {"max_content_chars": 0}, {"max_memories_per_turn": 5000},
    {"redactor": "nope"}, {"extractor": "nope"},
])
def test_bad_settings_are_refused_before_the_store_is_opened(
    tmp_path_factory: pytest.TempPathFactory, bad: dict[str, object]
) -> None:
    db = tmp_path_factory.mktemp("settings") / "never.db"
    with pytest.raises(ValueError):
        Memori(f"sqlite:///{db}", embedder="hash", **bad)  # type: ignore[arg-type]
    assert not db.exists()


@pytest.mark.parametrize(("given", "meant"), [
    ("/data/app/memori.db", "sqlite:////data/app/memori.db"),
    ("file:///data/app/memori.db", "sqlite:////data/app/memori.db"),
    ("memori.db", "sqlite:///memori.db"),
])
def test_a_file_path_is_refused_with_the_sqlite_url_it_likely_means(
    given: str, meant: str
) -> None:
    from memori.core import BackendNotFoundError

    with pytest.raises(BackendNotFoundError, match=f"write {meant}$"):
        Memori(given, embedder="hash")
