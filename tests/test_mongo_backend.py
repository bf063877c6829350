"""The MongoDB backend against a real wire-protocol server (started here, or MEMORI_TEST_MONGO_URL).

Every test writes under its own collection prefix in a database made for this
session, so runs never collide and a real MongoDB can be shared.
"""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient, monitoring

from memori.backends.mongo.features import Mode
from memori.backends.mongo.schema import HEAD, STEPS
from memori.backends.mongo.store import MongoStore, open_store
from memori.core import (
    Capability,
    ConfigurationError,
    DimensionMismatchError,
    ExtractState,
    InvalidIdError,
    Memory,
    SchemaOutdatedError,
    SchemaTooNewError,
    Scope,
    StoreError,
    StoreUnavailableError,
    Turn,
)
from memori.core.registry import Plugins
from memori.testing import OpenAIServer
from memori.testing.mongo_server import URL_ENV, MongoServer, shared_server, start_mongo_server

DIM = 4
HOSTILE_IDS = [
    '{"$ne": ""}', '{"$gt": ""}', "$where", "$ne", "$regex", ".*", "^.*$", "a|b", "[a-z]",
    "%", "_", "' OR '1'='1", "a.b", "a$", " x", "x ", "X", "x", "ß", "ss", "e\u0301", "é",
]

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def server() -> MongoServer:
    return shared_server()


@pytest.fixture(scope="module")
def database(server: MongoServer) -> Iterator[str]:
    name = f"memori_test_{uuid.uuid4().hex[:12]}"
    yield name
    client: MongoClient[Doc] = MongoClient(server.url)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def make(server: MongoServer, database: str, prefix: str) -> Iterator[Callable[..., MongoStore]]:
    """Open stores on this test's collections (closed afterwards)."""
    opened: list[MongoStore] = []

    def factory(**options: Any) -> MongoStore:
        options.setdefault("collection_prefix", prefix)
        store = open_store(server.url, database=database, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make: Callable[..., MongoStore]) -> MongoStore:
    s = make(vector_dim=DIM)
    s.setup()
    return s


@pytest.fixture
def client(server: MongoServer) -> Iterator[MongoClient[Doc]]:
    c: MongoClient[Doc] = MongoClient(server.url)
    yield c
    c.close()


class Recorder(monitoring.CommandListener):
    """Records every command a client sends (name, body, thread)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Doc, int]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.command_name, dict(event.command), threading.get_ident()))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def names(self) -> list[str]:
        return [c[0] for c in self.commands if c[0] not in ("hello", "isMaster", "endSessions")]


def turn(entity: str, content: str, *, process: str | None = None, session: str = "s1",
         **fields: Any) -> Turn:
    return Turn(entity_id=entity, session_id=session, role="user", content=content,
                process_id=process, **fields)


# discovery and targets

def test_backend_is_chosen_by_url_and_by_client_objects(server: MongoServer) -> None:
    plugins = Plugins()
    assert plugins.backend_for_url("mongodb://h/db").name == "mongo"
    assert plugins.backend_for_url("mongodb+srv://u:p@cluster.example/db").name == "mongo"
    sync: MongoClient[Doc] = MongoClient(server.url)
    aclient: AsyncMongoClient[Doc] = AsyncMongoClient(server.url)
    try:
        assert plugins.backend_for_object(sync).name == "mongo"
        assert plugins.backend_for_object(sync["db"]).name == "mongo"
        assert plugins.backend_for_object(aclient).name == "mongo"
        assert plugins.backend_for_object(aclient["db"]).name == "mongo"
    finally:
        sync.close()
        asyncio.run(aclient.close())


def test_user_client_is_used_and_left_open(
    server: MongoServer, database: str, prefix: str, client: MongoClient[Doc]
) -> None:
    store = open_store(client, database=database, collection_prefix=prefix)
    store.setup()
    store.append_turns([turn("u1", "hello")])
    assert Capability.NATIVE_ASYNC not in store.capabilities
    store.close()
    assert client[database][prefix + "turns"].count_documents({}) == 1  # still usable
    db_store = open_store(client[database], collection_prefix=prefix)
    assert db_store.count_turns(Scope("u1")) == 1
    # with a sync client only, the async twins run the same plans in a worker thread
    assert asyncio.run(db_store.acount_turns(Scope("u1"))) == 1
    assert Capability.ASYNC in db_store.capabilities


async def test_async_only_target_and_paired_clients(
    server: MongoServer, database: str, prefix: str
) -> None:
    aclient: AsyncMongoClient[Doc] = AsyncMongoClient(server.url)
    sync: MongoClient[Doc] = MongoClient(server.url)
    try:
        only_async = open_store(aclient[database], collection_prefix=prefix)
        await only_async.asetup()
        await only_async.aappend_turns([turn("a1", "hi")])
        with pytest.raises(ConfigurationError, match="sync_client"):
            only_async.count_turns(Scope("a1"))
        both = open_store(sync, database=database, collection_prefix=prefix,
                          async_client=aclient)
        assert {Capability.ASYNC, Capability.NATIVE_ASYNC} <= both.capabilities
        assert both.count_turns(Scope("a1")) == 1
        assert await both.acount_turns(Scope("a1")) == 1
    finally:
        sync.close()
        await aclient.close()


def test_bad_targets_and_options_are_configuration_errors(server: MongoServer) -> None:
    with pytest.raises(ConfigurationError):
        open_store("postgresql://h/db")
    with pytest.raises(ConfigurationError):
        open_store(object())
    with pytest.raises(ConfigurationError, match="unknown mongo option"):
        open_store(server.url, text_idx="auto")
    with pytest.raises(ConfigurationError, match="text_index"):
        open_store(server.url, text_index="sometimes")
    with pytest.raises(ConfigurationError, match="collection_prefix"):
        open_store(server.url, collection_prefix="system.")
    with pytest.raises(ConfigurationError, match="vector_dim"):
        open_store(server.url, vector_dim=0)


def test_password_never_appears_in_repr_or_errors() -> None:
    store = open_store("mongodb://alice:s3cr3t-pw@127.0.0.1:9/db",
                       client_options={"serverSelectionTimeoutMS": 100})
    assert "s3cr3t-pw" not in repr(store)
    with pytest.raises(StoreUnavailableError) as info:
        store.setup()
    assert "s3cr3t-pw" not in str(info.value)
    assert info.value.__cause__ is not None
    store.close()


# setup

def test_setup_is_idempotent_and_recorded_in_meta(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    store = make(vector_dim=DIM)
    store.setup()
    store.setup()
    meta = {d["_id"]: d for d in client[database][prefix + "meta"].find()}
    assert meta["schema"]["version"] == HEAD
    assert {f"step:{s.version}" for s in STEPS} <= set(meta)
    assert meta["vectors"]["dim"] == DIM
    for name in ("turns", "memories"):
        info = client[database][prefix + name].index_information()
        for index_name, spec in info.items():
            if index_name in ("_id_", "outbox_pending"):
                continue
            assert spec["key"][0][0] == "entity_id", f"{name}.{index_name} must lead with entity_id"
    assert info["entity_id_1_id_1"]["unique"] is True


def test_concurrent_setup_from_threads_is_safe(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    stores = [make(vector_dim=DIM) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(s: MongoStore) -> None:
        barrier.wait()
        try:
            s.setup()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    steps = list(client[database][prefix + "meta"].find({"_id": {"$regex": "^step:"}}))
    assert len(steps) == len(STEPS)


async def test_concurrent_async_setup_is_safe(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    stores = [make(vector_dim=DIM) for _ in range(3)]
    try:
        await asyncio.gather(*(s.asetup() for s in stores))
        schema = client[database][prefix + "meta"].find_one({"_id": "schema"}) or {}
        assert schema.get("version") == HEAD
    finally:
        for s in stores:
            await s.aclose()


def test_newer_schema_is_refused(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    client[database][prefix + "meta"].insert_one({"_id": "schema", "version": HEAD + 1})
    with pytest.raises(SchemaTooNewError):
        make().setup()


def test_older_collections_are_upgraded_only_when_asked(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    meta = client[database][prefix + "meta"]
    meta.insert_one({"_id": "schema", "version": 1})
    meta.insert_one({"_id": "step:1", "version": 1})
    with pytest.raises(SchemaOutdatedError) as info:
        make().setup()
    assert "memori migrate" in str(info.value) and info.value.current == "1"
    assert client[database][prefix + "memories"].index_information() == {}
    make(migrate=True).setup()
    assert (meta.find_one({"_id": "schema"}) or {}).get("version") == HEAD
    assert "entity_id_1_id_1" in client[database][prefix + "memories"].index_information()
    make().setup()  # up to date now


def test_a_store_opened_from_a_url_serves_each_event_loop(
    server: MongoServer, database: str, prefix: str, openai_server: OpenAIServer,
) -> None:
    """A script or worker that runs ``asyncio.run`` more than once: pymongo binds an
    async client to the loop it first ran on, and every registered async call from a
    later loop went on without memory ("Cannot use AsyncMongoClient in different event
    loop")."""
    from memori import Memori

    with Memori(server.url, embedder="hash", extractor=None, strict=True, store_options={
        "database": database, "collection_prefix": prefix,
    }) as mem:
        mem.attribution(entity_id="ana", session_id="s")
        mem.remember("I am allergic to peanuts.")

        async def ask(i: int) -> None:
            client = mem.llm.register(openai_server.async_client())
            try:
                await client.chat.completions.create(model="m", messages=[
                    {"role": "user", "content": f"Am I allergic to peanuts? ({i})"}])
            finally:
                mem.llm.unregister(client)
                await client.close()

        for i in range(3):
            asyncio.run(ask(i))  # strict: a failed read raises here
            assert "peanuts" in str(openai_server.last_request("chat").body["messages"][0])
        assert mem.llm.stats.read_failures == 0


def test_memori_facade_runs_on_mongo(server: MongoServer, database: str, prefix: str) -> None:
    from memori import Memori

    with Memori(server.url, embedder="hash", store_options={
        "database": database, "collection_prefix": prefix,
    }) as mem:
        assert mem.store.name == "mongo"
        mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
        mem.remember("Goal: sub-25 5K by June")
        mem.attribution(entity_id="alice@example.com", process_id="meal-planner")
        assert mem.recall("running goal June") == []
        mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
        hits = mem.recall("my June goal")
        assert hits and "sub-25 5K" in hits[0].content
        assert mem.forget(entity_id="alice@example.com") >= 1


def test_other_vector_dimension_is_refused(make: Callable[..., MongoStore]) -> None:
    make(vector_dim=DIM).setup()
    with pytest.raises(DimensionMismatchError):
        make(vector_dim=DIM + 1).setup()
    make().setup()  # a store without vectors may share the collections


# ids are data

def test_hostile_ids_round_trip_and_never_match_other_entities(store: MongoStore) -> None:
    base = uuid.uuid4().hex
    entities = [base + h for h in HOSTILE_IDS] + [h + base for h in HOSTILE_IDS]
    entities += [h for h in HOSTILE_IDS if h.strip()]  # bare operator-looking ids too
    entities = list(dict.fromkeys(entities))
    for e in entities:
        store.forget(e)
    for e in entities:
        store.append_turns([turn(e, f"turn of {e}", process=e, session=e, id=e)])
        store.put_memories([Memory(entity_id=e, content=f"memory of {e}", process_id=e, id=e)])
    for e in entities:
        scope = Scope(e, e, e)
        turns = store.list_turns(scope)
        assert [(t.entity_id, t.id, t.content) for t in turns] == [(e, e, f"turn of {e}")]
        memories = store.list_memories(Scope(e, e))
        assert [(m.entity_id, m.id) for m in memories] == [(e, e)]
        assert store.get_memory(Scope(e, e), e) is not None
        assert store.raw_count(e) == 2
        hits = store.search_memories(Scope(e, e), text="memory of")
        assert {h.item.entity_id for h in hits} == {e}
        assert [r["entity_id"] for r in store.export(e)] == [e, e]
    victim = entities[0]
    assert store.forget(victim) == 2
    assert all(store.raw_count(e) == 2 for e in entities[1:])
    for e in entities[1:]:
        store.forget(e)


def _forged_scope(entity: Any) -> Scope:
    scope = object.__new__(Scope)
    object.__setattr__(scope, "entity_id", entity)
    object.__setattr__(scope, "process_id", None)
    object.__setattr__(scope, "session_id", None)
    return scope


def test_non_str_ids_are_rejected_before_any_query(
    server: MongoServer, database: str, prefix: str
) -> None:
    recorder = Recorder()
    client: MongoClient[Doc] = MongoClient(server.url, event_listeners=[recorder])
    try:
        store = open_store(client, database=database, collection_prefix=prefix, vector_dim=DIM)
        store.setup()
        recorder.commands.clear()
        op: Any = {"$ne": ""}
        scope = Scope("e1", "p1", "s1")
        calls: list[Callable[[], object]] = [
            lambda: store.forget(op),
            lambda: store.raw_count(op),
            lambda: list(store.export(op)),
            lambda: store.get_memory(scope, op),
            lambda: store.update_memory(scope, op, {"count": 2}),
            lambda: store.delete_memories(scope, [op]),
            lambda: store.delete_memories(scope, "not-a-list"),
            lambda: store.delete_turns(scope, [op]),
            lambda: store.outbox_mark(op, ["t"], ExtractState.DONE),
            lambda: store.outbox_mark("e1", [op], ExtractState.DONE),
            lambda: store.append_turns([turn("e1", "x", id=op)]),
            lambda: store.put_memories([Memory(entity_id="e1", content="x", id=op)]),
            lambda: store.put_memories([Memory(entity_id="e1", content="x", superseded_by=op)]),
            lambda: store.list_turns(_forged_scope(op)),
            lambda: store.search_memories(_forged_scope(op), text="x"),
            lambda: store.list_turns(_forged_scope(b"e1")),
            lambda: store.forget(None),  # type: ignore[arg-type]
            lambda: store.forget(""),
        ]
        for call in calls:
            with pytest.raises((InvalidIdError, TypeError)):
                call()
        assert recorder.names() == []
    finally:
        client.close()


def test_metadata_with_operator_keys_round_trips(store: MongoStore) -> None:
    meta = {"$set": {"a.b": 1}, "$where": "1 == 1", "tool_calls": [{"id": "c1"}]}
    store.append_turns([turn("m1", "x", metadata=meta)])
    store.put_memories([Memory(entity_id="m1", content="y", metadata=meta)])
    assert dict(store.list_turns(Scope("m1", None, "s1"))[0].metadata) == meta
    assert dict(store.list_memories(Scope("m1"))[0].metadata) == meta
    store.forget("m1")


# visibility

def test_persona_visibility_and_superseded_memories(store: MongoStore) -> None:
    e = uuid.uuid4().hex
    own = Memory(entity_id=e, content="coach note", process_id="coach")
    other = Memory(entity_id=e, content="meal note", process_id="meal")
    shared = Memory(entity_id=e, content="meal shared", process_id="meal", shared=True)
    open_ = Memory(entity_id=e, content="no persona")
    old = Memory(entity_id=e, content="old goal", process_id="coach", superseded_by=own.id)
    store.put_memories([own, other, shared, open_, old])
    coach = {m.id for m in store.list_memories(Scope(e, "coach"))}
    assert coach == {own.id, shared.id, open_.id}
    assert {m.id for m in store.list_memories(Scope(e))} == {shared.id, open_.id}
    assert store.count_memories(Scope(e, "coach"), include_superseded=True) == 4
    assert store.get_memory(Scope(e, "coach"), other.id) is None
    assert store.update_memory(Scope(e, "coach"), other.id, {"count": 5}) is False
    assert store.delete_memories(Scope(e, "coach"), [other.id]) == 0
    assert store.update_memory(Scope(e, "meal"), other.id, {"shared": True}) is True
    assert other.id in {m.id for m in store.list_memories(Scope(e, "coach"))}
    assert store.update_memory(Scope(e, "coach"), own.id, {"superseded_by": old.id})
    assert own.id not in {m.id for m in store.list_memories(Scope(e, "coach"))}
    with pytest.raises(ValueError, match="process_id"):
        store.update_memory(Scope(e, "coach"), own.id, {"process_id": "meal"})
    store.forget(e)


def test_turns_are_read_per_persona_and_session(store: MongoStore) -> None:
    e = uuid.uuid4().hex
    t1 = turn(e, "one", process="coach", session="a")
    t2 = turn(e, "two", process="coach", session="b")
    t3 = turn(e, "three", session="a")
    store.append_turns([t1, t2, t3])
    assert [t.id for t in store.list_turns(Scope(e, "coach"))] == [t1.id, t2.id]
    assert [t.id for t in store.list_turns(Scope(e, "coach", "b"))] == [t2.id]
    assert [t.id for t in store.list_turns(Scope(e, None, "a"))] == [t3.id]
    assert [t.id for t in store.list_turns(Scope(e, "coach"), limit=1)] == [t2.id]
    store.append_turns([t1])  # a retried write replaces, never duplicates
    assert store.count_turns(Scope(e, "coach")) == 2
    assert store.delete_turns(Scope(e, "coach", "a")) == 1
    assert store.delete_turns(Scope(e, None), [t2.id]) == 0
    store.forget(e)


# text search

def test_text_search_ranks_by_relevance_within_the_scope(store: MongoStore) -> None:
    e, stranger = uuid.uuid4().hex, uuid.uuid4().hex
    rare = Memory(entity_id=e, content="zebra stripes")
    common = Memory(entity_id=e, content="the cat and the dog")
    twice = Memory(entity_id=e, content="Zebra, ZEBRA!")
    end = Memory(entity_id=e, content="the end")
    unrelated = Memory(entity_id=e, content="nothing here")
    store.put_memories([rare, common, twice, end, unrelated])
    hits = store.search_memories(Scope(e), text="zebra the")
    assert [h.id for h in hits][:2] == [twice.id, rare.id]
    assert {h.id for h in hits} == {rare.id, common.id, twice.id, end.id}
    assert all(0.0 <= h.score < 1.0 and h.signals["text"] == h.score for h in hits)
    before = [(h.id, h.score) for h in hits]
    store.put_memories([Memory(entity_id=stranger, content="zebra zebra zebra")] * 1)
    assert [(h.id, h.score) for h in store.search_memories(Scope(e), text="zebra the")] == before
    for hostile in ['"zebra', "-zebra", '{"$ne": 1}', "$where", "zebra*", "(", "\\"]:
        found = store.search_memories(Scope(e), text=hostile)
        assert all(h.item.entity_id == e for h in found)
    assert store.search_memories(Scope(e), text="  ,.;!  ") == []
    with pytest.raises(ValueError):
        store.search_memories(Scope(e))
    store.forget(e)
    store.forget(stranger)


def test_text_search_matches_the_reference_bm25(store: MongoStore) -> None:
    e = uuid.uuid4().hex
    contents = ["alpha beta", "beta beta gamma", "gamma delta epsilon zeta", "alpha"]
    memories = [Memory(entity_id=e, content=c) for c in contents]
    store.put_memories(memories)
    hits = {h.id: h.score for h in store.search_memories(Scope(e), text="alpha gamma")}
    docs = [c.split() for c in contents]
    n, avg = len(docs), sum(len(d) for d in docs) / len(docs)
    for m, d in zip(memories, docs, strict=True):
        s = 0.0
        for term in ("alpha", "gamma"):
            tf = d.count(term)
            if tf:
                df = sum(term in x for x in docs)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                s += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(d) / avg))
        if s:
            assert hits[m.id] == pytest.approx(s / (1 + s), abs=1e-9)
        else:
            assert m.id not in hits
    store.forget(e)


# vector search

def test_exact_vector_search_fetches_only_the_scope(
    server: MongoServer, database: str, prefix: str
) -> None:
    recorder = Recorder()
    client: MongoClient[Doc] = MongoClient(server.url, event_listeners=[recorder])
    try:
        store = open_store(client, database=database, collection_prefix=prefix, vector_dim=DIM)
        store.setup()
        assert store.search_modes["vector"] == {"turns": "fallback", "memories": "fallback"} or (
            Capability.NATIVE_VECTOR_INDEX in store.capabilities
        )
        e, other = uuid.uuid4().hex, uuid.uuid4().hex
        near = Memory(entity_id=e, content="a", embedding=(1.0, 0.0, 0.0, 0.0))
        far = Memory(entity_id=e, content="b", embedding=(-1.0, 0.0, 0.0, 0.0))
        side = Memory(entity_id=e, content="c", embedding=(0.0, 1.0, 0.0, 0.0))
        store.put_memories([near, far, side, Memory(entity_id=e, content="no vector")])
        store.put_memories([Memory(entity_id=other, content="x", embedding=(1.0, 0, 0, 0))])
        recorder.commands.clear()
        hits = store.search_memories(Scope(e), vector=[2.0, 0.0, 0.0, 0.0], limit=10)
        assert [h.id for h in hits] == [near.id, side.id, far.id]
        assert [h.score for h in hits] == pytest.approx([1.0, 0.5, 0.0])
        for name, body, _ in recorder.commands:
            if name in ("find", "aggregate"):
                assert repr(e) in repr(body), f"{name} without the entity filter: {body}"
        with pytest.raises(DimensionMismatchError):
            store.search_memories(Scope(e), vector=[1.0, 0.0])
        with pytest.raises(DimensionMismatchError):
            store.put_memories([Memory(entity_id=e, content="bad", embedding=(1.0,))])
        store.forget(e)
        store.forget(other)
    finally:
        client.close()


def test_hybrid_search_fuses_both_rankings(store: MongoStore) -> None:
    e = uuid.uuid4().hex
    both = Memory(entity_id=e, content="violin lessons", embedding=(1.0, 0.0, 0.0, 0.0))
    text_only = Memory(entity_id=e, content="violin", embedding=(0.0, 0.0, 1.0, 0.0))
    vector_only = Memory(entity_id=e, content="piano", embedding=(0.9, 0.1, 0.0, 0.0))
    store.put_memories([both, text_only, vector_only])
    hits = store.search_memories(Scope(e), text="violin", vector=[1.0, 0.0, 0.0, 0.0])
    # text ranks text_only, both; vector ranks both, vector_only, text_only (RRF, k=60)
    assert [h.id for h in hits] == [both.id, text_only.id, vector_only.id]
    best = 2 / 61
    assert [h.score for h in hits] == pytest.approx(
        [(1 / 62 + 1 / 61) / best, (1 / 61 + 1 / 63) / best, (1 / 62) / best])
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert set(hits[0].signals) == {"text", "vector"}
    assert set(next(h for h in hits if h.id == vector_only.id).signals) == {"vector"}
    store.forget(e)


def test_store_without_vectors_refuses_vector_queries(make: Callable[..., MongoStore]) -> None:
    store = make()
    store.setup()
    e = uuid.uuid4().hex
    store.put_memories([Memory(entity_id=e, content="kiwi", embedding=(1.0, 2.0))])
    assert store.list_memories(Scope(e))[0].embedding is None
    assert Capability.VECTOR_SEARCH not in store.capabilities
    with pytest.raises(ConfigurationError):
        store.search_memories(Scope(e), vector=[1.0, 2.0])
    store.forget(e)


def test_capabilities_name_the_search_engines_in_use(make: Callable[..., MongoStore]) -> None:
    store = make(vector_dim=DIM)
    store.setup()
    modes = store.search_modes
    caps = store.capabilities
    assert (Capability.NATIVE_TEXT_INDEX in caps) == all(
        m == Mode.NATIVE for m in modes["text"].values())
    assert (Capability.NATIVE_VECTOR_INDEX in caps) == all(
        m == Mode.NATIVE for m in modes["vector"].values())
    assert {Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH, Capability.ASYNC,
            Capability.NATIVE_ASYNC} <= caps
    forced = make(vector_dim=DIM, text_index="fallback", vector_index="fallback")
    forced.setup()
    assert Capability.NATIVE_TEXT_INDEX not in forced.capabilities
    assert Capability.NATIVE_VECTOR_INDEX not in forced.capabilities
    if Capability.NATIVE_TEXT_INDEX not in caps:
        with pytest.raises(ConfigurationError, match="text index"):
            make(text_index="native").setup()


# whole entity, outbox, admin

def test_export_import_round_trip_and_forget_leaves_nothing(
    store: MongoStore, client: MongoClient[Doc], database: str, prefix: str
) -> None:
    e = uuid.uuid4().hex
    t = turn(e, "hello", process="p", embedding=(0.5, 0.25, 0.0, 1.0), metadata={"k": [1, 2]})
    m = Memory(entity_id=e, content="fact", process_id="p", source_turn_ids=(t.id,),
               updated_at=5.0, embedding=(1.0, 0.0, 0.0, 0.0))
    store.append_turns([t])
    store.put_memories([m])
    records = list(store.export(e))
    assert [r["type"] for r in records] == ["turn", "memory"]
    assert records[0]["embedding"] == [0.5, 0.25, 0.0, 1.0]
    assert store.forget(e) == 2
    assert store.raw_count(e) == 0
    for name in ("turns", "memories", "meta"):
        assert client[database][prefix + name].count_documents({"entity_id": e}) == 0
    assert store.import_records(records) == 2
    assert list(store.export(e)) == records
    assert {r["entity_id"] for r in store.admin_export_all()} >= {e}
    stats = store.admin_stats()
    assert stats["backend"] == "mongo" and stats["turns"] >= 1 and stats["entities"] >= 1
    store.forget(e)


def test_outbox_pending_and_mark(store: MongoStore) -> None:
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    t1, t2, t3 = turn(a, "1"), turn(b, "2"), turn(a, "3")
    store.append_turns([t1, t2, t3])
    pending = [t.id for t in store.outbox_pending(1000)]
    assert [i for i in pending if i in {t1.id, t2.id, t3.id}] == [t1.id, t2.id, t3.id]
    store.outbox_mark(a, [t1.id, t2.id], ExtractState.PARKED, attempts=3, error="boom")
    got = {t.id: t for t in store.list_turns(Scope(a))}
    assert got[t1.id].extract_state is ExtractState.PARKED
    assert (got[t1.id].extract_attempts, got[t1.id].extract_error) == (3, "boom")
    assert store.list_turns(Scope(b))[0].extract_state is ExtractState.PENDING  # other entity
    store.outbox_mark(a, [t1.id], ExtractState.DONE)
    assert store.list_turns(Scope(a))[0].extract_error == "boom"
    assert t1.id not in {t.id for t in store.outbox_pending(1000)}
    store.forget(a)
    store.forget(b)


def test_closed_store_is_unavailable(make: Callable[..., MongoStore]) -> None:
    store = make()
    store.setup()
    store.close()
    with pytest.raises(StoreUnavailableError):
        store.count_turns(Scope("x"))


def test_driver_errors_are_translated(make: Callable[..., MongoStore]) -> None:
    from pymongo.errors import OperationFailure

    from memori.backends.mongo.ops import Aggregate
    from memori.core.plan_store import Plan, Work

    def failing() -> Plan[None]:
        yield Aggregate("turns", [{"$noSuchStage": {}}])

    store = make()
    with pytest.raises(StoreError) as info:
        store.run(failing(), Work("probe", None))
    assert not isinstance(info.value, StoreUnavailableError)
    assert isinstance(info.value.__cause__, OperationFailure)


# async twins

@pytest.fixture
async def astore(make: Callable[..., MongoStore]) -> AsyncIterator[MongoStore]:
    store = make(vector_dim=DIM)
    await store.asetup()
    yield store
    await store.aclose()


async def test_async_twins_run_on_the_event_loop_thread(
    server: MongoServer, database: str, prefix: str
) -> None:
    recorder = Recorder()
    aclient: AsyncMongoClient[Doc] = AsyncMongoClient(server.url, event_listeners=[recorder])
    store = open_store(aclient, database=database, collection_prefix=prefix, vector_dim=DIM)
    loop_thread = threading.get_ident()
    try:
        await store.asetup()
        e = uuid.uuid4().hex
        t = turn(e, "async zebra", embedding=(1.0, 0.0, 0.0, 0.0))
        await store.aappend_turns([t])
        m = Memory(entity_id=e, content="async quartz", embedding=(0.0, 1.0, 0.0, 0.0))
        await store.aput_memories([m])
        assert [x.id for x in await store.alist_turns(Scope(e, None, "s1"))] == [t.id]
        assert await store.acount_turns(Scope(e)) == 1
        assert [h.id for h in await store.asearch_turns(Scope(e), text="zebra")] == [t.id]
        hits = await store.asearch_memories(Scope(e), vector=[0.0, 1.0, 0.0, 0.0])
        assert hits[0].id == m.id and hits[0].score == pytest.approx(1.0)
        assert (await store.aget_memory(Scope(e), m.id)) is not None
        assert await store.aupdate_memory(Scope(e), m.id, {"content": "async violin"})
        assert [x.content for x in await store.alist_memories(Scope(e))] == ["async violin"]
        assert await store.acount_memories(Scope(e)) == 1
        assert await store.adelete_memories(Scope(e), [m.id]) == 1
        assert await store.adelete_turns(Scope(e)) == 1
        assert await store.aforget(e) == 0
        with pytest.raises(InvalidIdError):
            await store.aforget({"$ne": ""})  # type: ignore[arg-type]
        assert recorder.commands, "the async client sent the commands"
        # every command was sent from the event loop's thread: no thread offload
        assert {thread for _, _, thread in recorder.commands} == {loop_thread}
    finally:
        await store.aclose()
        await aclient.close()


async def test_async_and_sync_share_data(astore: MongoStore) -> None:
    e = uuid.uuid4().hex
    await astore.aappend_turns([turn(e, "from async")])
    assert astore.count_turns(Scope(e)) == 1
    astore.put_memories([Memory(entity_id=e, content="from sync")])
    assert await astore.acount_memories(Scope(e)) == 1
    assert await astore.aforget(e) == 2


def test_server_helper_uses_the_environment_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "mongodb://db.invalid:27017")
    srv = start_mongo_server()
    assert srv.url == "mongodb://db.invalid:27017" and not srv.owned
    srv.stop()


# the native paths' plans, driven with the answers a server with search indexes gives

def _drive(plan: Any, answers: list[Any]) -> Any:
    """Run a plan, answering its requests in order; returns (value, requests)."""
    requests = []
    try:
        request = next(plan)
        for answer in answers:
            requests.append(request)
            request = plan.send(answer)
        raise AssertionError(f"the plan asked for more: {request!r}")
    except StopIteration as stop:
        return stop.value, requests


def test_vector_index_detection_follows_the_server_answers() -> None:
    from pymongo.errors import OperationFailure

    from memori.backends.mongo.features import Want, detect_vector

    name = "p_memories_vector"
    listed = [{"name": name, "queryable": True,
               "latestDefinition": {"fields": [{"type": "vector", "numDimensions": DIM}]}}]
    mode, _ = _drive(detect_vector("memories", "p_", DIM, Want.AUTO), [(True, listed)])
    assert mode is Mode.NATIVE
    building = [{**listed[0], "queryable": False}]
    mode, _ = _drive(detect_vector("memories", "p_", DIM, Want.AUTO), [(True, building)])
    assert mode is Mode.BUILDING
    mode, requests = _drive(detect_vector("memories", "p_", DIM, Want.AUTO),
                            [(True, []), (True, name)])
    assert mode is Mode.BUILDING
    model = requests[1].request.model.document
    assert model["type"] == "vectorSearch" and model["name"] == name
    assert {f["path"] for f in model["definition"]["fields"]} >= {"embedding", "entity_id"}
    refused = (False, OperationFailure("no search here", 115))
    mode, _ = _drive(detect_vector("memories", "p_", DIM, Want.AUTO), [refused])
    assert mode is Mode.FALLBACK
    with pytest.raises(ConfigurationError):
        _drive(detect_vector("memories", "p_", DIM, Want.NATIVE), [refused])
    wrong = [{**listed[0], "latestDefinition": {"fields": [{"type": "vector",
                                                             "numDimensions": DIM + 1}]}}]
    with pytest.raises(DimensionMismatchError):
        _drive(detect_vector("memories", "p_", DIM, Want.AUTO), [(True, wrong)])


def test_native_pipelines_take_the_scope_and_words_as_data() -> None:
    import numpy as np

    from memori.backends.mongo import filters, text_search, vector_search

    scope = Scope('{"$ne": ""}', "$where")
    where = filters.memory_scope(scope, include_superseded=False)
    assert where == {"entity_id": '{"$ne": ""}', "audience": {"$in": ["", "$where"]},
                     "current": True}
    pipeline = text_search.native_pipeline(where, text_search.query_terms('-a "b" c*'), 5)
    assert pipeline[0]["$match"] == {**where, "$text": {"$search": "a b c"}}
    stage = vector_search.native_pipeline("idx", where, np.ones(DIM, dtype=np.float32), 3)
    assert stage[0]["$vectorSearch"]["filter"] == {
        "entity_id": {"$eq": '{"$ne": ""}'}, "audience": {"$in": ["", "$where"]},
        "current": {"$eq": True},
    }
    assert stage[0]["$vectorSearch"]["limit"] == 3
    assert stage[2] == {"$match": where}


def test_setup_step_rederives_the_terms_of_cjk_documents(
    make: Callable[..., MongoStore], client: MongoClient[Doc], database: str, prefix: str
) -> None:
    from memori.core import Memory, Scope

    store = make()
    store.setup()
    store.put_memories([Memory(entity_id="e", id="m1", content="我对花生过敏"),
                        Memory(entity_id="e", id="m2", content="plain English")])
    store.close()
    memories, meta = client[database][prefix + "memories"], client[database][prefix + "meta"]
    # as a store before the CJK rule wrote it: the sentence is one term, steps 7-8 unknown
    memories.update_one({"id": "m1"}, {"$set": {
        "terms": ["我对花生过敏"], "term_freqs": [1], "term_total": 1}})
    meta.delete_many({"_id": {"$in": ["step:7", "step:8"]}})
    meta.update_one({"_id": "schema"}, {"$set": {"version": 6}})
    with pytest.raises(SchemaOutdatedError):
        make().setup()
    upgraded = make(migrate=True)
    upgraded.setup()
    assert (meta.find_one({"_id": "schema"}) or {}).get("version") == HEAD
    assert [h.id for h in upgraded.search_memories(Scope("e"), text="花生")] == ["m1"]
    assert [h.id for h in upgraded.search_memories(Scope("e"), text="english")] == ["m2"]
    assert "花" in (memories.find_one({"id": "m1"}) or {})["terms"]
