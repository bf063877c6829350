"""OpenTelemetry: the spans and metrics of real calls, read with the SDK's in-memory exporter.

The providers are set once for this module (OpenTelemetry's globals can be set once per
process), as an application would set them; Memori(otel=True) or MEMORI_OTEL=1 switch
memori's spans on. Without the switch nothing of opentelemetry is imported (subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from memori import FlushError, Memori
from memori.core import MissingExtraError, SupportsRecentTurns, Turn
from memori.llm.anthropic_messages import ANTHROPIC_MESSAGES
from memori.llm.chat import CHAT, LITELLM_CHAT
from memori.llm.responses import RESPONSES
from memori.observability.otel import provider_name
from memori.observability.store_proxy import InstrumentedStore
from memori.testing import OpenAIServer
from memori.testing.anthropic_server import ANTHROPIC_MODEL, AnthropicServer

MODEL = "gpt-4o-mini"
CODE = "zebra-quartz-7731"
REMEMBERED = f"The locker code of Alice is {CODE}"
ASKED = "What is my locker code?"
ENTITY = "alice@example.com"

EXPORTER = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def _providers() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))


@pytest.fixture
def traced(sqlite_url: str) -> Iterator[Memori]:
    EXPORTER.clear()
    m = Memori(sqlite_url, embedder="hash", otel=True)
    yield m
    m.close()


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = by_name(spans, name)
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None
            and s.parent.span_id == parent.context.span_id]


def everything(spans: list[ReadableSpan]) -> str:
    """Every name, attribute, event and status of the spans, as one string."""
    return "\n".join(s.to_json() for s in spans)


def call_and_extract(mem: Memori, client: openai.OpenAI) -> None:
    """One remembered fact, one intercepted call that recalls it, one extraction."""
    mem.attribution(entity_id=ENTITY, process_id="coach", session_id="s-1")
    mem.remember(REMEMBERED)
    EXPORTER.clear()
    client.chat.completions.create(model=MODEL,
                                   messages=[{"role": "user", "content": ASKED}])
    mem.flush()


def test_one_call_and_one_extraction_are_traced_without_message_text(
    traced: Memori, openai_server: OpenAIServer
) -> None:
    client = traced.llm.register(openai_server.client())
    call_and_extract(traced, client)
    sent = "\n".join(str(m.get("content")) for m in openai_server.last_request("chat").messages)
    assert CODE in sent, traced.llm.stats  # recalled and injected: the text was there to leak
    spans = list(EXPORTER.get_finished_spans())

    call = one(spans, "memori.call")
    assert call.attributes is not None
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.provider.name"] == "openai"
    assert call.attributes["memori.api"] == "chat"
    assert call.attributes["gen_ai.request.model"] == MODEL
    assert call.attributes["gen_ai.conversation.id"] == "s-1"
    assert call.attributes["gen_ai.agent.name"] == "coach"
    assert call.attributes["memori.context.injected"] is True
    retrieval = one(spans, "retrieval memori")
    assert retrieval.parent is not None and retrieval.parent.span_id == call.context.span_id
    assert retrieval.attributes is not None
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["memori.recall.hits"] >= 1
    searches = children(spans, retrieval)
    assert {"search_memories", "search_turns"} <= {s.name for s in searches}
    for s in searches:
        assert s.kind is SpanKind.CLIENT
        assert s.attributes is not None
        assert s.attributes["db.system.name"] == "sqlite"
        assert s.attributes["db.operation.name"] == s.name
    context = one(spans, "memori.context")
    assert context.parent is not None and context.parent.span_id == call.context.span_id
    assert context.attributes is not None and context.attributes["memori.context.tokens"] > 0
    record = one(spans, "memori.record")
    assert record.parent is not None and record.parent.span_id == call.context.span_id
    assert record.attributes is not None and record.attributes["memori.turns"] == 2

    extract = one(spans, "memori.extract")
    assert extract.attributes is not None
    assert extract.attributes["memori.turns"] == 2
    assert extract.attributes["memori.extractor"] == "offline"
    assert "outbox_mark" in {s.name for s in children(spans, extract)}
    assert "append_turns" in {s.name for s in spans}  # the recorder's write, a store span

    text = everything(spans)
    for secret in (CODE, "locker", ENTITY, "echo:"):
        assert secret not in text, secret


def test_content_is_recorded_only_when_the_operator_opts_in(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    with Memori(sqlite_url, embedder="hash", otel=True, otel_capture_content=True) as mem:
        client = mem.llm.register(openai_server.client())
        call_and_extract(mem, client)
        spans = list(EXPORTER.get_finished_spans())
    retrieval = one(spans, "retrieval memori")
    assert retrieval.attributes is not None
    assert retrieval.attributes["gen_ai.retrieval.query.text"] == ASKED
    context = one(spans, "memori.context")
    assert context.attributes is not None and CODE in str(context.attributes["memori.context.text"])
    assert one(spans, "memori.call").attributes["memori.entity_id"] == ENTITY  # type: ignore[index]


def test_a_failure_is_traced_by_its_class_never_its_message(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    class Broken:
        def retrieve(self, store: Any, scope: Any, query: str, **kw: Any) -> list[Any]:
            raise RuntimeError(f"cannot rank {query}")

    with Memori(sqlite_url, embedder="hash", retriever=Broken(), otel=True,  # type: ignore[arg-type]
                strict=True) as mem:
        client = mem.llm.register(openai_server.client())
        mem.attribution(entity_id=ENTITY, session_id="s-2")
        EXPORTER.clear()
        with pytest.raises(RuntimeError):
            client.chat.completions.create(model=MODEL,
                                           messages=[{"role": "user", "content": ASKED}])
        spans = list(EXPORTER.get_finished_spans())
    for name in ("retrieval memori", "memori.call"):
        span = one(spans, name)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None and span.attributes["error.type"] == "RuntimeError"
    assert "locker" not in everything(spans)


async def test_the_async_path_is_traced_too(
    traced: Memori, openai_server: OpenAIServer
) -> None:
    client = traced.llm.register(openai_server.async_client())
    traced.attribution(entity_id=ENTITY, session_id="s-3")
    await traced.aremember(REMEMBERED)
    EXPORTER.clear()
    await client.chat.completions.create(model=MODEL,
                                         messages=[{"role": "user", "content": ASKED}])
    await traced.aflush()
    await client.close()
    spans = list(EXPORTER.get_finished_spans())
    call = one(spans, "memori.call")
    retrieval = one(spans, "retrieval memori")
    assert retrieval.parent is not None and retrieval.parent.span_id == call.context.span_id
    assert by_name(spans, "memori.extract")
    assert CODE not in everything(spans)


def test_recall_is_a_span_and_metrics_report_the_pipeline(traced: Memori) -> None:
    traced.attribution(entity_id=ENTITY)
    traced.remember(REMEMBERED)
    EXPORTER.clear()
    assert traced.recall("locker code")
    assert one(list(EXPORTER.get_finished_spans()), "retrieval memori")
    found: dict[str, list[Any]] = {}
    data = READER.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != "memori":
                continue
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    assert sum(p.count for p in found["memori.recall.duration"]) >= 1
    for name in ("memori.write.queue_depth", "memori.augmentation.lag",
                 "memori.augmentation.parked", "memori.turns.written",
                 "memori.augmentation.processed", "memori.memories.changed"):
        assert found.get(name), name
    mine = [p for p in found["memori.augmentation.parked"]
            if p.attributes.get("db.system.name") == "sqlite"]
    assert mine and all(p.value == 0 for p in mine)


def test_the_traced_store_answers_capability_checks_like_the_store(traced: Memori) -> None:
    store = traced.store
    assert isinstance(store, InstrumentedStore)
    inner = store.inner
    assert isinstance(store, SupportsRecentTurns) == isinstance(inner, SupportsRecentTurns)
    assert store.capabilities == inner.capabilities
    assert store.vector_dim == inner.vector_dim
    assert repr(store) == repr(inner)


def test_memori_otel_switches_tracing_on(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORI_OTEL", "1")
    monkeypatch.setenv("MEMORI_OTEL_CAPTURE_CONTENT", "true")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.observer.enabled and mem.observer.capture_content
        mem.attribution(entity_id=ENTITY)
        EXPORTER.clear()
        mem.recall("locker code")
        retrieval = one(list(EXPORTER.get_finished_spans()), "retrieval memori")
        assert retrieval.attributes is not None
        assert retrieval.attributes["gen_ai.retrieval.query.text"] == "locker code"
    with Memori(sqlite_url, embedder="hash", otel=False) as mem:  # the argument wins
        assert not mem.observer.enabled
    monkeypatch.setenv("MEMORI_OTEL_CAPTURE_CONTENT", "1")
    with Memori(sqlite_url, embedder="hash", otel_capture_content=False) as mem:  # it wins too
        assert mem.observer.enabled and not mem.observer.capture_content
        mem.attribution(entity_id=ENTITY)
        EXPORTER.clear()
        mem.recall("locker code")
        retrieval = one(list(EXPORTER.get_finished_spans()), "retrieval memori")
        assert retrieval.attributes is not None
        assert "gen_ai.retrieval.query.text" not in retrieval.attributes
        assert "locker" not in everything([retrieval])
    monkeypatch.setenv("MEMORI_OTEL_CAPTURE_CONTENT", "0")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.observer.enabled and not mem.observer.capture_content
    monkeypatch.setenv("MEMORI_OTEL", "sometimes")
    with pytest.raises(ValueError, match="MEMORI_OTEL must be"):
        Memori(sqlite_url, embedder="hash")


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORI_OTEL",))}
    environ.update(MEMORI_HOME=str(tmp_path / "home"), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                          capture_output=True, text=True, timeout=120)


def test_without_the_switch_opentelemetry_is_never_imported(tmp_path: Path) -> None:
    done = run(f"""
        import sys
        from memori import Memori
        mem = Memori("sqlite:///{tmp_path / 'm.db'}", embedder="hash")
        mem.attribution(entity_id="u")
        mem.remember("Prefers tea.")
        mem.recall("tea")
        mem.flush()
        mem.close()
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().replace("'", '"')) == []


def test_switched_on_without_the_extra_names_it(tmp_path: Path) -> None:
    code = f"""
        import sys
        sys.modules["opentelemetry"] = None  # as if 'memori[otel]' were not installed
        from memori import Memori
        try:
            Memori("sqlite:///{tmp_path / 'm.db'}", embedder="hash"{{arg}})
        except ImportError as e:
            print(type(e).__name__, e)
    """
    for arg, env in ((", otel=True", {}), ("", {"MEMORI_OTEL": "1"})):
        done = run(code.replace("{arg}", arg), tmp_path, **env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(MissingExtraError.__name__), done.stdout
        assert "pip install 'memori[otel]'" in done.stdout


def test_a_streamed_reply_is_recorded_under_the_calls_span(
    traced: Memori, openai_server: OpenAIServer
) -> None:
    client = traced.llm.register(openai_server.client())
    traced.attribution(entity_id=ENTITY, session_id="s-4")
    EXPORTER.clear()
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": ASKED}], stream=True)
    reply = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert reply
    spans = list(EXPORTER.get_finished_spans())
    call = one(spans, "memori.call")
    assert call.attributes is not None and call.attributes["gen_ai.request.stream"] is True
    records = by_name(spans, "memori.record")
    assert records and all(r.parent is not None and r.parent.span_id == call.context.span_id
                           for r in records)
    assert sum(r.attributes["memori.turns"] for r in records) == 2  # type: ignore[index]
    assert reply not in everything(spans)


def test_an_anthropic_call_names_its_provider_and_no_message_text(
    traced: Memori, anthropic_server: AnthropicServer
) -> None:
    client = traced.llm.register(anthropic_server.client())
    try:
        traced.attribution(entity_id=ENTITY, process_id="coach", session_id="s-5")
        traced.remember(REMEMBERED)
        EXPORTER.clear()
        reply = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                       messages=[{"role": "user", "content": ASKED}])
        traced.flush()
    finally:
        client.close()
    assert CODE in str(anthropic_server.last_message_request().json.get("system"))
    spans = list(EXPORTER.get_finished_spans())
    call = one(spans, "memori.call")
    assert call.attributes is not None
    assert call.attributes["gen_ai.provider.name"] == "anthropic"
    assert call.attributes["memori.api"] == "anthropic.messages"
    assert call.attributes["gen_ai.request.model"] == ANTHROPIC_MODEL
    assert by_name(spans, "memori.record") and by_name(spans, "memori.extract")
    text = everything(spans)
    answer = "".join(b.text for b in reply.content if b.type == "text")
    for secret in (CODE, "locker", ASKED, ENTITY, answer):
        assert secret and secret not in text, secret


def test_the_provider_of_an_openai_call_and_of_a_litellm_route() -> None:
    assert (CHAT.provider, RESPONSES.provider) == ("openai", "openai")
    assert (ANTHROPIC_MESSAGES.provider, LITELLM_CHAT.provider) == ("anthropic", "litellm")
    assert provider_name("openai", {"model": "anthropic/claude"}) == "openai"
    assert provider_name("litellm", {"model": "anthropic/claude-3-5-haiku"}) == "anthropic"
    assert provider_name("litellm", {"model": "gemini/gemini-2.0-flash"}) == "gcp.gemini"
    assert provider_name("litellm", {"model": "bedrock/anthropic.claude-v2"}) == "aws.bedrock"
    assert provider_name("litellm", {"model": "gpt-4o-mini",
                                     "custom_llm_provider": "openai"}) == "openai"
    for unknown in ({"model": "gpt-4o-mini"}, {"model": "ollama/llama3"}, {}):
        assert provider_name("litellm", unknown) == "litellm"


def readings(mem: Memori) -> dict[str, float]:
    """The value of each memori metric for ``mem`` (its ``memori.instance``), collected now."""
    instance = mem.observer.instruments._watched[mem]["memori.instance"]  # type: ignore[attr-defined]
    data = READER.get_metrics_data()
    assert data is not None
    found: dict[str, float] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != "memori":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if point.attributes.get("memori.instance") == instance:
                        found[metric.name] = point.value  # type: ignore[union-attr]
    return found


def test_metrics_report_waiting_turns_and_parked_ones(sqlite_url: str) -> None:
    inside, release = threading.Event(), threading.Event()

    class Refusing:
        name = "refusing"

        def extract(self, turns: Any) -> list[Any]:
            inside.set()
            release.wait(30)
            raise RuntimeError("cannot extract")

    with Memori(sqlite_url, embedder="hash", extractor=Refusing(), otel=True,  # type: ignore[arg-type]
                read_your_writes=0) as mem:
        mem.pipeline.runner.policy.base_backoff = 0.0  # type: ignore[union-attr]
        store = mem.store.inner  # type: ignore[attr-defined]
        real, writable = store.append_turns, threading.Event()

        def append_turns(turns: Any) -> None:
            writable.wait(30)
            real(turns)

        store.append_turns = append_turns  # type: ignore[method-assign]
        mem.attribution(entity_id=ENTITY, session_id="s-6")
        mem.record([Turn(entity_id=ENTITY, session_id="s-6", role="user", content=ASKED),
                    Turn(entity_id=ENTITY, session_id="s-6", role="assistant", content="No.")])
        assert readings(mem)["memori.write.queue_depth"] == 2  # the store is not written yet
        writable.set()
        assert inside.wait(30)  # stored; the extraction holds them
        time.sleep(0.05)
        waiting = readings(mem)
        assert waiting["memori.write.queue_depth"] == 0
        assert waiting["memori.augmentation.lag"] > 0
        assert waiting["memori.augmentation.parked"] == 0
        release.set()
        with pytest.raises(FlushError):
            mem.flush(timeout=30)
        after = readings(mem)
        assert after["memori.augmentation.parked"] == 2  # each turn parked after 4 attempts
        assert after["memori.augmentation.failed"] >= 4  # batches: they may be split
        assert after["memori.augmentation.lag"] == 0  # nothing pending: parked is not waiting
        assert after["memori.turns.written"] == 2
