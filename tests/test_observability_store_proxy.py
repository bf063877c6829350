"""The traced store proxy is a conforming store: the whole conformance suite runs through it
(capability checks, async twins, isolation), and each call leaves one span."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from memori.backends.sqlite.store import open_store
from memori.conformance import StoreConformance
from memori.conformance.reference import InMemoryDatabase, InMemoryStore
from memori.core import Scope
from memori.observability.otel import OTelObserver
from memori.observability.store_proxy import InstrumentedStore, inner_store, instrument

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
OBSERVER = OTelObserver(tracer_provider=_provider)


class TestTracedReferenceStore(StoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> InMemoryDatabase:
        return InMemoryDatabase()

    @pytest.fixture
    def make_store(self, lifespan: InMemoryDatabase) -> Callable[..., Any]:
        def factory(**options: Any) -> Any:
            return OBSERVER.instrument(InMemoryStore(lifespan, **options))

        return factory


class TestTracedSQLiteStore(StoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("traced-sqlite") / "memori.db"

    @pytest.fixture
    def make_store(self, lifespan: Path) -> Callable[..., Any]:
        def factory(**options: Any) -> Any:
            return OBSERVER.instrument(open_store(f"sqlite:///{lifespan}", **options))

        return factory


def test_each_store_call_is_one_client_span(tmp_path: Path) -> None:
    store = OBSERVER.instrument(open_store(f"sqlite:///{tmp_path / 'm.db'}", vector_dim=None))
    assert isinstance(store, InstrumentedStore)
    assert instrument(store, OBSERVER) is store and inner_store(store) is store.inner
    store.setup()
    EXPORTER.clear()
    store.search_memories(Scope("u"), text="tea", limit=3)
    store.list_turns(Scope("u", None, "s"))
    spans = EXPORTER.get_finished_spans()
    assert [s.name for s in spans] == ["search_memories", "list_turns"]
    assert all(s.attributes is not None and s.attributes["db.system.name"] == "sqlite"
               for s in spans)
    store.close()


async def test_async_store_calls_are_spans_too() -> None:
    store = OBSERVER.instrument(InMemoryStore(InMemoryDatabase(), vector_dim=None))
    store.setup()
    EXPORTER.clear()
    await store.alist_turns(Scope("u", None, "s"))
    assert [s.name for s in EXPORTER.get_finished_spans()][-1] == "alist_turns"
