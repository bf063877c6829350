"""Shared reads on SQLite (``SupportsSharedReads``): the reads of one call share one
connection and read each entity's version once, and still see the thread's own
writes, never hold an in-memory database's single connection, and leave a broken
store's errors to the reads themselves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from memori import Memori
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import (
    Memory,
    Scope,
    StoreUnavailableError,
    SupportsSharedReads,
    Turn,
    list_pinned,
    recent_turns,
    shared_reads,
)
from memori.testing import OpenAIServer

DIM = 4
SCOPE = Scope("e", "p", "s1")


class Counted:
    """Pool checkouts and entity-version reads of a store's engine, by thread."""

    def __init__(self, store: SQLiteStore) -> None:
        self.checkouts: list[int] = []
        self.version_reads: list[int] = []
        event.listen(store.engine, "checkout", self._checkout)
        event.listen(store.engine, "connect", self._connect)
        store.engine.dispose()  # connections made from now on are traced

    def _checkout(self, *_: Any) -> None:
        self.checkouts.append(threading.get_ident())

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        def trace(sql: str) -> None:
            if "FROM memori_entity_versions" in sql:
                self.version_reads.append(threading.get_ident())

        dbapi_conn.set_trace_callback(trace)

    def reset(self) -> None:
        self.checkouts.clear()
        self.version_reads.clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}", vector_dim=DIM,
                   vector_search="exact", item_cache_after=0)
    s.setup()
    s.put_memories([Memory("e", f"alpha note {i}", process_id="p", embedding=(1.0, i, 0, 0),
                           pinned=i == 0) for i in range(8)])
    s.append_turns([Turn("e", "s1", "user", f"alpha turn {i}", process_id="p",
                         embedding=(1.0, 0, i, 0)) for i in range(8)])
    yield s
    s.close()


def call_reads(store: SQLiteStore) -> list[list[str]]:
    """What the LLM path reads for one call: history, pinned, the four searches."""
    out = [[t.id for t in recent_turns(store, SCOPE, limit=4)],
           [m.id for m in list_pinned(store, SCOPE)]]
    for search in (store.search_memories, store.search_turns):
        out.append([h.item.id for h in search(SCOPE, text="alpha", limit=5)])
        out.append([h.item.id for h in search(SCOPE, vector=(1.0, 0.5, 0.5, 0), limit=5)])
    return out


def test_the_reads_of_a_block_share_one_connection_and_one_version_read_per_kind(
    store: SQLiteStore,
) -> None:
    assert isinstance(store, SupportsSharedReads)
    counted = Counted(store)
    call_reads(store)  # the caches warm up
    counted.reset()
    alone = call_reads(store)
    assert len(counted.checkouts) == 6 and len(counted.version_reads) == 6
    counted.reset()
    with shared_reads(store):
        shared = call_reads(store)
        with store.shared_reads():  # re-entrant: the same connection again
            again = call_reads(store)
    assert shared == alone == again
    assert len(counted.checkouts) == 1
    assert len(counted.version_reads) == 2  # turns and memories, once each


@pytest.mark.parametrize("entity", ["e", "new"])
def test_a_write_inside_the_block_is_seen_by_the_reads_after_it(
    store: SQLiteStore, entity: str,
) -> None:
    """Of an entity known before (its sets move forward) and of one that had no rows
    (the block had learnt "no rows": the write must unlearn it)."""
    scope = Scope(entity, "p", "s1")
    with store.shared_reads():
        before = store.search_memories(scope, text="zebra", limit=5)
        store.put_memories([Memory(entity, "zebra crossing", process_id="p",
                                   embedding=(0, 0, 0, 1.0))])
        after = store.search_memories(scope, text="zebra", limit=5)
        nearest = store.search_memories(scope, vector=(0, 0, 0, 1.0), limit=1)
    assert before == []
    assert [h.item.content for h in after] == ["zebra crossing"]
    assert nearest[0].item.content == "zebra crossing"


def write_from_another_thread(store: SQLiteStore, text: str) -> None:
    """Store a memory from another thread, which must not be kept waiting."""
    writer = threading.Thread(target=store.put_memories, args=(
        [Memory("e", text, process_id="p", embedding=(0, 1.0, 0, 0))],))
    writer.start()
    writer.join(10)
    assert not writer.is_alive()


def test_another_threads_write_during_a_block_is_seen_once_it_ends(
    store: SQLiteStore,
) -> None:
    with store.shared_reads():
        assert store.search_memories(SCOPE, text="yak", limit=5) == []
        write_from_another_thread(store, "yak wool")  # the held connection blocks no writer
    assert [h.item.content for h in store.search_memories(SCOPE, text="yak", limit=5)] \
        == ["yak wool"]


def test_a_closed_store_fails_in_the_read_not_on_entering(store: SQLiteStore) -> None:
    store.close()
    with store.shared_reads():
        with pytest.raises(StoreUnavailableError):
            store.search_memories(SCOPE, text="alpha", limit=5)
        with pytest.raises(StoreUnavailableError):
            store.list_pinned(SCOPE)


def test_an_in_memory_store_keeps_its_single_connection_free_for_other_threads() -> None:
    s = open_store("sqlite://", vector_dim=DIM, vector_search="exact")
    s.setup()
    try:
        with s.shared_reads():
            assert s.search_memories(SCOPE, text="alpha", limit=5) == []
            write_from_another_thread(s, "alpha")
            assert len(s.search_memories(SCOPE, text="alpha", limit=5)) == 1
    finally:
        s.close()


def test_a_store_without_shared_reads_gets_a_block_that_does_nothing() -> None:
    with shared_reads(object()):
        pass


def test_a_registered_call_reads_through_one_connection(
    tmp_path: Path, openai_server: OpenAIServer,
) -> None:
    """The user's journey: one chat call reads history, pinned memories, and runs the
    retriever's searches and context reads, all on one checkout in the caller's thread."""
    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash",
                 store_options={"item_cache_after": 0})
    try:
        mem.attribution(entity_id="u", process_id="assistant")
        mem.remember("The user's sister lives in Lyon")
        mem.remember("The user is allergic to peanuts", pinned=True)
        client = mem.llm.register(openai_server.client())
        ask = [{"role": "user", "content": "Where does my sister live?"}]
        client.chat.completions.create(model="m", messages=ask)  # warm the caches
        mem.flush()
        assert isinstance(mem.store, SQLiteStore)
        counted = Counted(mem.store)
        client.chat.completions.create(model="m", messages=ask)
        me = threading.get_ident()
        assert counted.checkouts.count(me) == 1
        assert counted.version_reads.count(me) == 2
        sent = openai_server.last_request("chat").messages
        assert "Lyon" in str(sent) and "peanuts" in str(sent)
        mem.flush()
        client.close()
    finally:
        mem.close()


def test_calls_keep_answering_when_the_store_is_closed_under_them(
    tmp_path: Path, openai_server: OpenAIServer,
) -> None:
    """A store going away mid-run (closed by another thread while calls hold their shared
    reads, as an application shutting down does): every call still answers, sync and
    async, and nothing hangs. (Each call still waits up to ``read_your_writes`` for the
    turns in flight that can no longer be stored: short here.)"""
    import asyncio

    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash", read_your_writes=0.1)
    mem.attribution(entity_id="u", process_id="assistant")
    for i in range(50):
        mem.remember(f"The user's note {i} about the garden")
    client = mem.llm.register(openai_server.client())
    aclient = mem.llm.register(openai_server.async_client())
    answers: list[str] = []

    def calls() -> None:
        mem.attribution(entity_id="u", process_id="assistant")  # per thread
        for i in range(40):
            reply = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"garden {i}?"}])
            answers.append(reply.choices[0].message.content or "")

    async def acalls() -> None:
        mem.attribution(entity_id="u", process_id="assistant")
        for i in range(40):
            reply = await aclient.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"async garden {i}?"}])
            answers.append(reply.choices[0].message.content or "")

    caller = threading.Thread(target=calls)
    acaller = threading.Thread(target=lambda: asyncio.run(acalls()))
    caller.start()
    acaller.start()
    time.sleep(0.05)
    mem.store.close()
    caller.join(60)
    acaller.join(60)
    assert not caller.is_alive() and not acaller.is_alive()
    assert len(answers) == 80 and all(a.startswith("echo: ") for a in answers)
    assert mem.llm.stats.read_failures > 0  # the reads after the close failed, and were let go
    mem.close()
