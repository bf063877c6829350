"""The Qdrant backend: URLs, sparse text vectors, scope filters on every call, local and async.

Runs on qdrant-client's local mode; set ``MEMORI_TEST_QDRANT_URL`` (``http://host:6333``
or a ``qdrant+http://...`` URL) to run the store tests against a real server too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytest.importorskip("qdrant_client")

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from memori.backends.qdrant import filters
from memori.backends.qdrant.calls import Call
from memori.backends.qdrant.connection import PROBE_TIMEOUT
from memori.backends.qdrant.payload import point_id
from memori.backends.qdrant.schema import SCHEMA_VERSION
from memori.backends.qdrant.sparse import (
    INDEX_SPACE,
    document_vector,
    query_vector,
    word_index,
    words,
)
from memori.backends.qdrant.store import QdrantStore, open_store
from memori.backends.qdrant.urls import parse_url
from memori.conformance.checks import assert_same_records
from memori.core import (
    Capability,
    ConfigurationError,
    DimensionMismatchError,
    ExtractState,
    InvalidIdError,
    Memory,
    MemoryStore,
    SchemaTooNewError,
    Scope,
    StoreError,
    StoreUnavailableError,
    Turn,
)
from memori.core.registry import Plugins
from memori.facade import Memori

SERVER_URL = os.environ.get("MEMORI_TEST_QDRANT_URL")
DIM = 4


def e(prefix: str = "e") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def vec(*xs: float) -> tuple[float, ...]:
    return tuple(float(x) for x in xs) + (0.0,) * (DIM - len(xs))


def server_client() -> QdrantClient:
    assert SERVER_URL
    if SERVER_URL.startswith("qdrant"):
        return QdrantClient(**parse_url(SERVER_URL).client_options())
    return QdrantClient(url=SERVER_URL)


# where the store tests run: local :memory: always, a real server when configured
BACKENDS = ["local"] + (["server"] if SERVER_URL else [])


@pytest.fixture(params=BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., QdrantStore]]:
    """``make(**options)``: stores on one database, under a collection prefix of this test."""
    client = QdrantClient(":memory:") if request.param == "local" else server_client()
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    opened: list[QdrantStore] = []

    def factory(**options: Any) -> QdrantStore:
        options.setdefault("collection_prefix", prefix)
        store = open_store(client, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
    for suffix in ("turns", "memories", "meta"):
        if client.collection_exists(f"{prefix}{suffix}"):
            client.delete_collection(f"{prefix}{suffix}")
    client.close()


@pytest.fixture
def store(make: Callable[..., QdrantStore]) -> QdrantStore:
    s = make(vector_dim=DIM)
    s.setup()
    return s


class Recorder:
    """Records every qdrant-client call a store makes (the calls still run for real)."""

    def __init__(self, store: QdrantStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        conn = store._conn
        real = conn.call

        def call(c: Call) -> Any:
            self.calls.append(c)
            return real(c)

        monkeypatch.setattr(conn, "call", call)

    def clear(self) -> None:
        self.calls.clear()


def _conditions(flt: Any) -> Iterator[Any]:
    """Every condition of a filter, nested filters included."""
    if flt is None:
        return
    for group in (flt.must, flt.should, flt.must_not):
        items = group if isinstance(group, list) else [group] if group is not None else []
        for c in items:
            if isinstance(c, models.Filter):
                yield from _conditions(c)
            else:
                yield c


def _filter_of(call: Call) -> Any:
    kw = call.kwargs
    for key in ("scroll_filter", "count_filter", "query_filter", "facet_filter"):
        if key in kw:
            return kw[key]
    selector = kw.get("points_selector") or kw.get("points")
    return getattr(selector, "filter", None)


def _entity_of(flt: Any) -> str | None:
    """The entity a filter's top-level ``must`` pins (None when it pins none)."""
    must = flt.must if flt is not None else None
    for c in must if isinstance(must, list) else [must]:
        if isinstance(c, models.FieldCondition) and c.key == filters.ENTITY:
            assert isinstance(c.match, models.MatchValue)
            return str(c.match.value)
        if isinstance(c, models.Filter):
            inner = _entity_of(c)
            if inner is not None:
                return inner
    return None


# URLs


def test_server_urls_parse_into_client_options() -> None:
    t = parse_url(
        "qdrant+http://db.internal:7333/base/path?api_key=s3cr3t&timeout=9"
        "&prefer_grpc=true&grpc_port=7334&collection_prefix=app_"
    )
    assert t.mode == "remote" and not t.is_local
    assert t.client_options() == {
        "url": "http://db.internal:7333", "prefix": "base/path", "api_key": "s3cr3t",
        "timeout": 9, "prefer_grpc": True, "grpc_port": 7334,
    }
    assert t.collection_prefix == "app_"
    assert parse_url("qdrant://db").url == "http://db:6333"
    assert parse_url("QDRANT+HTTPS://cloud.example:443").url == "https://cloud.example:443"
    assert parse_url("qdrant+https://cloud.example").url == "https://cloud.example:6333"
    assert parse_url("qdrant+http://[::1]:6333").url == "http://[::1]:6333"


def test_api_key_from_the_password_never_shows_in_a_repr() -> None:
    t = parse_url("qdrant+https://:p%40ss-w0rd@cloud.example")
    assert t.api_key == "p@ss-w0rd"
    assert "p@ss" not in repr(t) and "w0rd" not in repr(t) and "***" in repr(t)
    store = open_store("qdrant+https://:p%40ss-w0rd@cloud.example")
    assert "w0rd" not in repr(store)
    store.close()


def test_local_urls_parse(tmp_path: Path) -> None:
    assert parse_url("qdrant+memory://").mode == "memory"
    assert parse_url("qdrant+memory://").name is None
    assert parse_url("qdrant://:memory:").mode == "memory"
    assert parse_url("qdrant+memory://shared-one").name == "shared-one"
    assert parse_url(f"qdrant+path://{tmp_path}").path == str(tmp_path)
    assert parse_url("qdrant+path://rel/dir").path == "rel/dir"
    assert parse_url("qdrant+path://~/x").path == os.path.expanduser("~/x")
    assert parse_url("qdrant+path:///abs/dir?collection_prefix=p_").collection_prefix == "p_"


@pytest.mark.parametrize("url", [
    "qdrant+http://host?api_key=k&colour=blue",
    "qdrant+http://host?timeout=soon",
    "qdrant+http://host?prefer_grpc=maybe",
    "qdrant+http://host?grpc_port=-1",
    "qdrant+http://:6333",
    "qdrant+path://",
    "qdrant+memory://?api_key=k",
    "postgresql://host/db",
])
def test_bad_urls_are_configuration_errors_that_hide_values(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_url(url)
    assert "k&" not in str(info.value) and "blue" not in str(info.value)


def test_the_registry_routes_qdrant_urls_and_clients_to_this_backend() -> None:
    plugins = Plugins()
    for url in ("qdrant+memory://", "qdrant://h", "qdrant+https://h", "qdrant+path:///x"):
        assert plugins.backend_for_url(url).name == "qdrant"
    sync_client, async_client = QdrantClient(":memory:"), AsyncQdrantClient(":memory:")
    assert plugins.backend_for_object(sync_client).name == "qdrant"
    assert plugins.backend_for_object(async_client).name == "qdrant"
    store = plugins.backend_for_url("qdrant+memory://").load()("qdrant+memory://", vector_dim=3)
    assert isinstance(store, MemoryStore)
    store.close()


# sparse text vectors


def test_words_are_case_folded_and_indices_stable() -> None:
    assert words("Hello, WORLD! straße_2 x%y") == ["hello", "world", "strasse_2", "x", "y"]
    assert words("İx") == ["i\u0307x"]  # split first, then case-fold: one word
    # pinned: changing the hash would silently break every stored text vector
    assert word_index("zebra") == 65321080
    assert all(0 <= word_index(w) < INDEX_SPACE for w in ("a", "zebra", "🙂", "x" * 300))


def test_document_weights_saturate_and_queries_count_each_word_once() -> None:
    once, _ = document_vector("zebra quartz")
    indices, values = document_vector("zebra zebra zebra quartz")
    weights = dict(zip(indices, values, strict=True))
    assert set(indices) == set(once)
    assert weights[word_index("zebra")] > weights[word_index("quartz")]
    assert weights[word_index("zebra")] < 3 * weights[word_index("quartz")]
    assert query_vector("Zebra zebra ZEBRA") == ([word_index("zebra")], [1.0])
    assert document_vector("  ... !!") == ([], []) and query_vector("%%") == ([], [])


# isolation and scope filters


def test_identical_vector_of_another_entity_returns_nothing_of_it(store: QdrantStore) -> None:
    a, b = e("a"), e("b")
    shared_vector = vec(0.2, 0.4, 0.1, 0.9)
    store.put_memories([
        Memory(b, "zebra quartz secret of b", embedding=shared_vector, id="m1"),
        Memory(a, "violin note of a", embedding=vec(1, 0, 0, 0), id="m1"),
    ])
    store.append_turns([
        Turn(b, "s", "user", "zebra quartz turn of b", embedding=shared_vector, id="t1"),
    ])
    for hits in (
        store.search_memories(Scope(a), vector=shared_vector),
        store.search_memories(Scope(a), vector=shared_vector, text="zebra quartz secret"),
        store.search_memories(Scope(a), text="zebra quartz secret"),
        store.search_turns(Scope(a, None, "s"), vector=shared_vector, text="zebra"),
    ):
        assert all(h.item.entity_id == a for h in hits)
    assert [h.id for h in store.search_memories(Scope(a), vector=shared_vector)] == ["m1"]
    assert store.search_memories(Scope(a), vector=shared_vector)[0].content == "violin note of a"
    assert store.search_turns(Scope(a, None, "s"), vector=shared_vector) == []
    # the same item id under two entities is two points
    assert store.get_memory(Scope(b), "m1").content == "zebra quartz secret of b"  # type: ignore[union-attr]
    assert point_id(a, "m1") != point_id(b, "m1")


def test_every_per_entity_call_carries_the_entity_filter(
    store: QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = e("a"), e("b")
    for ent in (a, b):
        store.put_memories([Memory(ent, "zebra", id="m", embedding=vec(1))])
        store.append_turns([Turn(ent, "s", "user", "zebra", id="t", embedding=vec(1))])
    rec = Recorder(store, monkeypatch)
    scope = Scope(a, "p", "s")
    store.list_turns(scope)
    store.list_turns(scope, limit=1)
    store.count_turns(scope)
    store.search_turns(scope, text="zebra", vector=vec(1))
    store.search_turns(scope, text="zebra")
    store.search_turns(scope, vector=vec(1))
    store.get_memory(scope, "m")
    store.list_memories(scope)
    store.list_memories(scope, limit=2, offset=1)
    store.count_memories(scope, include_superseded=True)
    store.search_memories(scope, text="zebra", vector=vec(1))
    store.update_memory(Scope(a), "m", {"content": "quartz", "embedding": vec(0, 1)})
    store.delete_memories(scope, ["m", "x"])
    store.delete_turns(scope, ["t"])
    store.delete_turns(scope)
    store.outbox_mark(a, ["t"], ExtractState.DONE)
    list(store.export(a))
    store.raw_count(a)
    store.forget(a)
    assert rec.calls
    by_id = {point_id(a, "m"), point_id(a, "t")}
    for call in rec.calls:
        if call.method in ("update_vectors", "delete_vectors"):
            ids = [p.id for p in call.kwargs["points"]] if call.method == "update_vectors" \
                else call.kwargs["points"].points
            assert set(ids) <= by_id, call
            continue
        flt = _filter_of(call)
        assert _entity_of(flt) == a, f"{call.method} ran without entity {a}: {flt}"
        for cond in _conditions(flt):
            if isinstance(cond, models.FieldCondition):
                assert isinstance(cond.match, models.MatchValue), cond
    # B is untouched by all of it
    assert store.raw_count(b) == 2
    assert store.get_memory(Scope(b), "m").content == "zebra"  # type: ignore[union-attr]


def test_hybrid_search_is_one_fused_query_with_scoped_prefetches(
    store: QdrantStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = e()
    store.put_memories([
        Memory(a, "zebra quartz", embedding=vec(1, 0), id="both"),
        Memory(a, "zebra only", embedding=vec(0, 1), id="text"),
        Memory(a, "nothing here", embedding=vec(0.9, 0.1), id="vector"),
    ])
    rec = Recorder(store, monkeypatch)
    hits = store.search_memories(Scope(a), text="zebra quartz", vector=vec(1, 0), limit=3)
    (call,) = rec.calls
    assert call.method == "query_points"
    assert isinstance(call.kwargs["query"], models.FusionQuery)
    assert [_entity_of(p.filter) for p in call.kwargs["prefetch"]] == [a, a]
    assert hits[0].id == "both" and hits[0].score == pytest.approx(1.0)
    assert {h.id for h in hits} == {"both", "text", "vector"}
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_text_scores_of_an_entity_ignore_other_entities_words(
    make: Callable[..., QdrantStore],
) -> None:
    per_entity, global_idf = make(vector_dim=DIM), make(vector_dim=DIM, idf_per_entity=False)
    a, b = e("a"), e("b")
    per_entity.put_memories([
        Memory(a, "zebra lives here"), Memory(a, "violin plays there"),
    ])

    def score(s: QdrantStore) -> float:
        return s.search_memories(Scope(a), text="zebra")[0].score

    before, before_global = score(per_entity), score(global_idf)
    per_entity.put_memories([Memory(b, f"zebra number {i}") for i in range(20)])
    assert score(per_entity) == pytest.approx(before)
    assert score(global_idf) < before_global  # collection-wide IDF: B's words weigh on A


# behaviour


def test_memory_visibility_follows_persona_shared_and_supersession(store: QdrantStore) -> None:
    a = e()
    store.put_memories([
        Memory(a, "coach fact", process_id="coach", id="c"),
        Memory(a, "planner fact", process_id="planner", id="p"),
        Memory(a, "planner shared", process_id="planner", shared=True, id="ps"),
        Memory(a, "everyone", id="n"),
        Memory(a, "old everyone", id="old", superseded_by="n"),
    ])

    def ids(scope: Scope, **kw: Any) -> set[str]:
        return {m.id for m in store.list_memories(scope, **kw)}

    assert ids(Scope(a, "coach")) == {"c", "ps", "n"}
    assert ids(Scope(a, "planner")) == {"p", "ps", "n"}
    assert ids(Scope(a)) == {"ps", "n"}
    assert ids(Scope(a), include_superseded=True) == {"ps", "n", "old"}
    assert store.count_memories(Scope(a, "coach")) == 3
    assert store.get_memory(Scope(a, "coach"), "p") is None
    assert store.get_memory(Scope(a), "old") is not None
    assert store.update_memory(Scope(a, "coach"), "p", {"content": "x"}) is False
    assert store.update_memory(Scope(a, "planner"), "p", {"shared": True}) is True
    assert ids(Scope(a, "coach")) == {"c", "p", "ps", "n"}
    assert store.delete_memories(Scope(a, "coach"), ["planner-does-not-exist", "c"]) == 1


def test_update_memory_rewrites_text_and_vectors(store: QdrantStore) -> None:
    a = e()
    store.put_memories([Memory(a, "zebra stripes", embedding=vec(1, 0), id="m")])
    assert store.update_memory(Scope(a), "m", {"content": "quartz crystal",
                                                "embedding": vec(0, 1), "count": 3})
    assert store.search_memories(Scope(a), text="zebra") == []
    assert [h.id for h in store.search_memories(Scope(a), text="QUARTZ")] == ["m"]
    best = store.search_memories(Scope(a), vector=vec(0, 1))[0]
    assert best.id == "m" and best.score == pytest.approx(1.0)
    got = store.get_memory(Scope(a), "m")
    assert got is not None and got.count == 3 and got.embedding == pytest.approx(vec(0, 1))
    assert store.update_memory(Scope(a), "m", {"content": "...", "embedding": None})
    assert store.search_memories(Scope(a), vector=vec(0, 1)) == []
    assert store.search_memories(Scope(a), text="quartz") == []
    with pytest.raises(ValueError):
        store.update_memory(Scope(a), "m", {"entity_id": "someone-else"})


def test_turn_history_is_oldest_first_and_limit_keeps_the_latest(store: QdrantStore) -> None:
    a = e()
    turns = [Turn(a, "s", "user", f"turn {i}", process_id="p", created_at=1000.0 + i)
             for i in range(7)]
    store.append_turns(list(reversed(turns)))
    store.append_turns([Turn(a, "s", "user", "no persona"), Turn(a, "s2", "user", "other")])
    scope = Scope(a, "p", "s")
    assert [t.content for t in store.list_turns(scope)] == [f"turn {i}" for i in range(7)]
    assert [t.content for t in store.list_turns(scope, limit=3)] == ["turn 4", "turn 5", "turn 6"]
    assert store.count_turns(Scope(a, "p")) == 7
    assert [t.content for t in store.list_turns(Scope(a))] == ["no persona", "other"]
    assert store.delete_turns(scope, [turns[0].id, "absent"]) == 1
    assert store.delete_turns(scope) == 6
    assert store.count_turns(Scope(a)) == 2


def test_items_without_vectors_or_words_are_stored(store: QdrantStore) -> None:
    a = e()
    store.put_memories([Memory(a, "", id="empty"), Memory(a, "?!", id="punct")])
    store.append_turns([Turn(a, "s", "tool", "", metadata={"tool_calls": [{"id": "1"}]})])
    assert {m.id for m in store.list_memories(Scope(a))} == {"empty", "punct"}
    assert store.list_turns(Scope(a, None, "s"))[0].metadata == {"tool_calls": [{"id": "1"}]}
    assert store.search_memories(Scope(a), text="?!") == []


def test_embeddings_read_back_as_written_though_qdrant_normalises_them(
    store: QdrantStore,
) -> None:
    a = e()
    store.put_memories([Memory(a, "x", id="long", embedding=vec(0, 3, 4)),
                        Memory(a, "y", id="zero", embedding=vec())])
    assert store.get_memory(Scope(a), "long").embedding == pytest.approx(vec(0, 3, 4))  # type: ignore[union-attr]
    assert store.get_memory(Scope(a), "zero").embedding == pytest.approx(vec())  # type: ignore[union-attr]
    (record,) = [r for r in store.export(a) if r["id"] == "long"]
    assert record["embedding"] == pytest.approx([0, 3, 4, 0])
    hits = store.search_memories(Scope(a), vector=vec(0, 0, 1))
    assert [(h.id, round(h.score, 4)) for h in hits] == [("long", 0.9), ("zero", 0.5)]


def test_search_arguments_are_checked(store: QdrantStore) -> None:
    a = e()
    with pytest.raises(DimensionMismatchError):
        store.search_memories(Scope(a), vector=[1.0, 2.0])
    with pytest.raises(DimensionMismatchError):
        store.put_memories([Memory(a, "x", embedding=(1.0,))])
    with pytest.raises(ValueError):
        store.search_memories(Scope(a))
    with pytest.raises(ValueError):
        store.search_turns(Scope(a), text="x", limit=-1)
    with pytest.raises(TypeError):
        store.delete_memories(Scope(a), "m1")
    with pytest.raises(InvalidIdError):
        store.get_memory(Scope(a), "")


def test_outbox_crosses_entities_oldest_first_and_marks_per_entity(store: QdrantStore) -> None:
    a, b = e("a"), e("b")
    store.append_turns([
        Turn(a, "s", "user", "a1", created_at=1.0, id="t"),
        Turn(b, "s", "user", "b1", created_at=2.0, id="t"),
        Turn(a, "s", "user", "done", created_at=0.5, extract_state=ExtractState.DONE),
    ])
    pending = [t for t in store.outbox_pending(1000) if t.entity_id in (a, b)]
    assert [(t.entity_id, t.content) for t in pending] == [(a, "a1"), (b, "b1")]
    store.outbox_mark(a, ["t"], ExtractState.PARKED, attempts=3, error="boom")
    store.outbox_mark(a, ["t"], ExtractState.PARKED, attempts=4)
    (turn,) = [t for t in store.list_turns(Scope(a, None, "s")) if t.id == "t"]
    assert (turn.extract_state, turn.extract_attempts, turn.extract_error) == (
        ExtractState.PARKED, 4, "boom")
    assert [t.entity_id for t in store.outbox_pending(1000) if t.entity_id in (a, b)] == [b]


def test_forget_leaves_no_point_and_export_import_round_trips(
    make: Callable[..., QdrantStore],
) -> None:
    store = make(vector_dim=DIM)
    a, b = e("a"), e("b")
    store.put_memories([Memory(a, "zebra", embedding=vec(0.6, 0.8), metadata={"k": [1, "x"]})])
    store.append_turns([Turn(a, "s", "user", "hi", process_id="p"), Turn(b, "s", "user", "b")])
    records = list(store.export(a))
    assert {r["type"] for r in records} == {"turn", "memory"}
    assert store.raw_count(a) == 2 and store.forget(a) == 2 and store.raw_count(a) == 0
    assert store.list_memories(Scope(a)) == [] and store.raw_count(b) == 1
    other = make(vector_dim=DIM, collection_prefix=f"x{uuid.uuid4().hex[:8]}_")
    assert other.import_records(records) == 2
    assert_same_records(other.export(a), records)
    stats = other.admin_stats()
    assert (stats["backend"], stats["turns"], stats["memories"], stats["entities"]) == (
        "qdrant", 1, 1, 1)


# setup, dimensions, modes


def test_setup_is_versioned_idempotent_and_refuses_a_newer_schema(
    make: Callable[..., QdrantStore],
) -> None:
    store = make(vector_dim=DIM)
    store.setup()
    store.setup()
    client = store._conn._engine
    meta = client.scroll(store.layout.meta, with_payload=True)[0]
    assert [p.payload["schema_version"] for p in meta] == [SCHEMA_VERSION]
    client.set_payload(store.layout.meta, {"schema_version": SCHEMA_VERSION + 1},
                       points=[meta[0].id])
    with pytest.raises(SchemaTooNewError):
        make(vector_dim=DIM).setup()


def test_a_store_is_set_up_on_first_use(make: Callable[..., QdrantStore]) -> None:
    store = make(vector_dim=DIM)
    a = e()
    store.append_turns([Turn(a, "s", "user", "hello")])
    assert make(vector_dim=DIM).count_turns(Scope(a)) == 1


def test_setup_survives_losing_a_creation_race_but_not_a_refusal(
    make: Callable[..., QdrantStore], monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = make(vector_dim=DIM)
    real = store._conn.call
    lost: list[Any] = []

    def rival_creates_first(call: Call) -> Any:
        if call.method == "create_collection":
            real(call)  # another process creates the collection first...
            lost.append(real(call))  # ...so this one's creation fails
            return lost[-1]
        return real(call)

    monkeypatch.setattr(store._conn, "call", rival_creates_first)
    store.setup()
    assert lost and all(isinstance(error, StoreError) for error in lost)
    assert store.count_turns(Scope(e())) == 0

    refused = make(vector_dim=DIM, collection_prefix=f"r{uuid.uuid4().hex[:8]}_")
    monkeypatch.setattr(refused._conn, "call", lambda call: StoreError("refused")
                        if call.method == "create_collection" else real(call))
    with pytest.raises(StoreError, match="refused"):
        refused.setup()


def test_dimension_must_match_the_collections(make: Callable[..., QdrantStore]) -> None:
    make(vector_dim=DIM).setup()
    with pytest.raises(DimensionMismatchError):
        make(vector_dim=DIM + 1).setup()
    no_vectors = make(vector_dim=None)
    no_vectors.setup()
    a = e()
    no_vectors.put_memories([Memory(a, "zebra", embedding=vec(1))])
    assert no_vectors.search_memories(Scope(a), text="zebra")[0].item.embedding is None
    with pytest.raises(ConfigurationError):
        no_vectors.search_memories(Scope(a), vector=vec(1))
    assert Capability.VECTOR_SEARCH not in no_vectors.capabilities
    prefix = f"n{uuid.uuid4().hex[:8]}_"
    make(vector_dim=None, collection_prefix=prefix).setup()
    with pytest.raises(ConfigurationError):
        make(vector_dim=DIM, collection_prefix=prefix).setup()


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        open_store("qdrant+memory://", collection_prefix="bad/prefix")
    with pytest.raises(ConfigurationError):
        open_store("qdrant+memory://", vector_dim=0)
    with pytest.raises(ConfigurationError):
        open_store(QdrantClient(":memory:"), timeout=3)
    with pytest.raises(TypeError):
        open_store(object())


def test_path_mode_persists_and_shares_one_client_per_directory(tmp_path: Path) -> None:
    url = f"qdrant+path://{tmp_path / 'q'}"
    a = e()
    first, second = open_store(url, vector_dim=DIM), open_store(url, vector_dim=DIM)
    first.append_turns([Turn(a, "s", "user", "zebra", embedding=vec(1))])
    assert second.count_turns(Scope(a)) == 1
    first.close()
    assert second.search_turns(Scope(a), text="zebra")[0].content == "zebra"
    second.close()
    with pytest.raises(StoreUnavailableError):
        second.count_turns(Scope(a))
    reopened = open_store(url, vector_dim=DIM)
    assert [t.content for t in reopened.list_turns(Scope(a))] == ["zebra"]
    reopened.close()


def test_named_memory_instances_are_shared_and_anonymous_ones_private() -> None:
    a, name = e(), uuid.uuid4().hex
    one, two = open_store(f"qdrant+memory://{name}"), open_store(f"qdrant+memory://{name}")
    private = open_store("qdrant+memory://")
    one.append_turns([Turn(a, "s", "user", "x")])
    assert two.count_turns(Scope(a)) == 1 and private.count_turns(Scope(a)) == 0
    for s in (one, two, private):
        s.close()
    assert open_store(f"qdrant+memory://{name}").count_turns(Scope(a)) == 0


def test_a_client_the_user_passed_stays_open() -> None:
    client = QdrantClient(":memory:")
    store = open_store(client)
    store.append_turns([Turn("u", "s", "user", "x")])
    store.close()
    assert client.count("memori_turns").count == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_is_unavailable_and_the_key_stays_secret() -> None:
    port = _closed_port()
    store = open_store(f"qdrant+http://127.0.0.1:{port}?api_key=top-secret-key&timeout=2")
    assert Capability.NATIVE_ASYNC in store.capabilities
    with (
        pytest.raises(StoreUnavailableError) as info,
        pytest.warns(UserWarning, match="insecure connection"),  # qdrant-client's own warning
    ):
        store.count_turns(Scope("u"))
    assert "top-secret-key" not in str(info.value) and "top-secret-key" not in repr(store)
    store.close()


# async


async def _async_scenario(store: QdrantStore) -> None:
    a = e()
    await store.asetup()
    await store.aappend_turns([Turn(a, "s", "user", "zebra", embedding=vec(1))])
    await store.aput_memories([Memory(a, "quartz", embedding=vec(0, 1), id="m")])
    assert store.count_turns(Scope(a)) == 1  # a sync call sees the same data
    assert [t.content for t in await store.alist_turns(Scope(a, None, "s"))] == ["zebra"]
    hits = await store.asearch_memories(Scope(a), text="quartz", vector=vec(0, 1))
    assert [h.id for h in hits] == ["m"]
    assert [h.id for h in await store.asearch_turns(Scope(a), vector=vec(1))] != []
    assert await store.aupdate_memory(Scope(a), "m", {"content": "violin"})
    assert (await store.aget_memory(Scope(a), "m")).content == "violin"  # type: ignore[union-attr]
    assert [m.id for m in await store.alist_memories(Scope(a))] == ["m"]
    assert await store.acount_memories(Scope(a)) == 1
    assert await store.adelete_memories(Scope(a), ["m"]) == 1
    assert await store.adelete_turns(Scope(a, None, "s"), ["nope"]) == 0
    assert await store.aforget(a) == 1
    assert store.raw_count(a) == 0
    await store.aclose()


async def test_local_async_client_serves_both_apis_from_one_client() -> None:
    store = open_store(AsyncQdrantClient(":memory:"), vector_dim=DIM)
    assert Capability.ASYNC in store.capabilities
    assert Capability.NATIVE_ASYNC not in store.capabilities  # local mode: a worker thread
    await _async_scenario(store)


async def test_the_native_async_driver_awaits_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server path (``AsyncQdrantClient`` awaited), run on a local async client."""
    from memori.backends.qdrant.connection import Connection

    store = open_store(AsyncQdrantClient(":memory:"), vector_dim=DIM)
    monkeypatch.setattr(Connection, "native_async", property(lambda self: True))
    awaited: list[str] = []
    real = store._conn.acall

    async def acall(call: Call) -> Any:
        awaited.append(call.method)
        return await real(call)

    monkeypatch.setattr(store._conn, "acall", acall)
    monkeypatch.setattr(store._conn, "call", None)  # a sync call would fail loudly
    monkeypatch.setattr(store, "count_turns", lambda scope: 1)
    monkeypatch.setattr(store, "raw_count", lambda entity: 0)
    await _async_scenario(store)
    assert {"query_points", "scroll", "upsert", "overwrite_payload", "delete"} <= set(awaited)


async def test_local_sync_client_serves_async_calls_from_a_thread() -> None:
    store = open_store("qdrant+memory://", vector_dim=DIM)
    assert Capability.ASYNC in store.capabilities
    assert Capability.NATIVE_ASYNC not in store.capabilities
    a = e()

    async def writer(i: int) -> None:
        await store.aappend_turns([Turn(a, f"s{i}", "user", f"zebra {i}")])

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert await store.acount_turns(Scope(a)) == 20
    assert len(await store.asearch_turns(Scope(a), text="zebra", limit=50)) == 20
    await store.aclose()


def test_unreachable_server_over_grpc_is_unavailable() -> None:
    port = _closed_port()
    store = open_store(f"qdrant+http://127.0.0.1:{port}?prefer_grpc=true&grpc_port={port}"
                       "&timeout=2")
    with pytest.raises(StoreUnavailableError):
        store.count_turns(Scope("u"))
    store.close()


async def test_a_server_client_gets_its_twin_from_its_own_options() -> None:
    port = _closed_port()
    sync_client = QdrantClient(url=f"http://127.0.0.1:{port}", timeout=2,
                               check_compatibility=False)
    async_client = AsyncQdrantClient(url=f"http://127.0.0.1:{port}", timeout=2,
                                     check_compatibility=False)
    for client in (sync_client, async_client):
        store = open_store(client)
        assert Capability.NATIVE_ASYNC in store.capabilities
        with pytest.raises(StoreUnavailableError):
            await store.acount_turns(Scope("u"))  # the async twin of a sync client, or itself
        with pytest.raises(StoreUnavailableError):
            store.count_turns(Scope("u"))  # the sync twin of an async client, or itself
        await store.aclose()
    sync_client.close()
    await async_client.close()


# the URL path of Memori(...): every form that runs without a Qdrant server

SECRET = "top-secret-key"


class _HeaderLog(BaseHTTPRequestHandler):
    """A web server that is not Qdrant: answers 404 and logs what each request carried."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self._answer()

    do_PUT = do_POST = do_GET

    def _answer(self) -> None:
        self.seen.append((self.path, self.headers.get("api-key")))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def not_qdrant() -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HeaderLog)
    _HeaderLog.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), _HeaderLog.seen
    server.shutdown()
    server.server_close()


def _assert_secret_hidden(error: BaseException) -> None:
    for shown in (str(error), repr(error), str(error.__cause__ or "")):
        assert SECRET not in shown


@pytest.mark.parametrize("scheme", ["qdrant+http", "qdrant+https", "qdrant"])
@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_memori_on_a_server_that_is_down_is_unavailable_quickly(scheme: str) -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        Memori(f"{scheme}://127.0.0.1:{port}?api_key={SECRET}", embedder=None, extractor=None)
    assert time.monotonic() - started < PROBE_TIMEOUT + 3
    assert f"127.0.0.1:{port}" in str(info.value)
    _assert_secret_hidden(info.value)


@pytest.mark.parametrize("given_as", ["query", "option", "password"])
def test_a_server_url_opens_a_real_remote_client_with_the_api_key(given_as: str) -> None:
    port = _closed_port()
    base = f"127.0.0.1:{port}/proxy/qdrant"
    url, options = {
        "query": (f"qdrant+https://{base}?api_key={SECRET}&timeout=3", {}),
        "option": (f"qdrant+https://{base}?timeout=3", {"api_key": SECRET}),
        "password": (f"qdrant+https://:{SECRET}@{base}?timeout=3", {}),
    }[given_as]
    store = open_store(url, migrate=False, **options)  # what Memori passes
    with pytest.raises(StoreUnavailableError) as info:
        store.setup()
    client = store._conn._client(asynchronous=False)
    assert isinstance(client, QdrantClient)
    assert client.init_options["url"] == f"https://127.0.0.1:{port}"
    assert client.init_options["prefix"] == "proxy/qdrant"
    assert client.init_options["api_key"] == SECRET
    assert client.init_options["timeout"] == 3
    assert "migrate" not in client.init_options
    _assert_secret_hidden(info.value)
    assert SECRET not in repr(store)
    store.close()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_the_probe_sends_no_key_and_the_client_sends_it(
    not_qdrant: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = not_qdrant
    with pytest.raises(StoreError) as info:  # something answers: reachable, but not Qdrant
        Memori(f"qdrant+http://127.0.0.1:{port}", embedder=None, extractor=None,
               store_options={"api_key": SECRET})
    assert not isinstance(info.value, StoreUnavailableError)
    _assert_secret_hidden(info.value)
    assert seen[0] == ("/", None), "the probe carries no credential"
    assert len(seen) > 1 and all(key == SECRET for _, key in seen[1:]), (
        "qdrant-client sends the api key on its calls"
    )


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
async def test_the_async_first_call_on_a_server_that_is_down_is_unavailable() -> None:
    port = _closed_port()
    store = open_store(f"qdrant+http://127.0.0.1:{port}?api_key={SECRET}", migrate=False)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        await store.asetup()
    assert time.monotonic() - started < PROBE_TIMEOUT + 3
    assert isinstance(store._conn._client(asynchronous=True), AsyncQdrantClient)
    _assert_secret_hidden(info.value)
    await store.aclose()


@pytest.mark.parametrize("form", ["path", "memory", "named memory", "qdrant :memory:"])
def test_memori_remembers_and_recalls_on_local_qdrant_urls(form: str, tmp_path: Path) -> None:
    url = {
        "path": f"qdrant+path://{tmp_path / 'q'}",
        "memory": "qdrant+memory://",
        "named memory": f"qdrant+memory://{uuid.uuid4().hex}",
        "qdrant :memory:": "qdrant://:memory:",
    }[form]
    with Memori(url, embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id=e(), process_id="coach")
        mem.remember("Goal: a sub-25 5K by June")
        mem.remember("Prefers running at dawn")
        hits = mem.recall("What is my running goal for the 5K?")
        assert hits and "sub-25" in hits[0].content
    if form == "path":
        assert (tmp_path / "q").is_dir()


def test_setup_step_2_rewrites_the_sparse_vectors_of_cjk_points(
    make: Callable[..., QdrantStore],
) -> None:
    store = make(vector_dim=DIM)
    a = e()
    store.put_memories([Memory(a, "我对花生过敏", id="m1"), Memory(a, "plain English", id="m2")])
    client = store._conn._engine
    # as a store before the CJK rule wrote it: the sentence is one word, at version 1
    client.update_vectors(store.layout.memories, points=[models.PointVectors(
        id=point_id(a, "m1"),
        vector={"text": models.SparseVector(indices=[word_index("我对花生过敏")], values=[1.0])})])
    meta = client.scroll(store.layout.meta, with_payload=True)[0]
    client.set_payload(store.layout.meta, {"schema_version": 1}, points=[meta[0].id])
    assert store.search_memories(Scope(a), text="花生") == []
    upgraded = make(vector_dim=DIM)
    assert [h.id for h in upgraded.search_memories(Scope(a), text="花生")] == ["m1"]
    assert [h.id for h in upgraded.search_memories(Scope(a), text="english")] == ["m2"]
    meta = client.scroll(store.layout.meta, with_payload=True)[0]
    assert [p.payload["schema_version"] for p in meta] == [SCHEMA_VERSION] == [2]


def _server_clients_in_child(connections: Any, out: Any) -> None:
    made, borrowed = connections
    out.put((id(made._client(asynchronous=False)), id(borrowed._client(asynchronous=False))))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_makes_its_own_server_clients() -> None:
    """A server client holds open HTTP (or gRPC) connections: a child sharing its
    parent's would send its requests down the parent's sockets. The clients memori made
    are the parent's alone; a client the user passed stays the user's."""
    import multiprocessing

    from memori.backends.qdrant.connection import Connection
    from memori.backends.qdrant.urls import parse_url

    made = Connection.open(parse_url("qdrant+http://127.0.0.1:1"),  # no request is made
                           {"check_compatibility": False})
    parents = made._client(asynchronous=False)
    users = QdrantClient(url="http://127.0.0.1:1", check_compatibility=False)
    borrowed = Connection.borrow(users)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_server_clients_in_child, args=((made, borrowed), out))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    in_child, users_in_child = out.get(timeout=5)
    assert in_child != id(parents)  # its own, made on first use there
    assert users_in_child == id(users)
    assert made._client(asynchronous=False) is parents  # the parent's own, still
