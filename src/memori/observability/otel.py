"""The OpenTelemetry observer: spans and metrics through the application's providers.

Loaded only when switched on (it imports ``opentelemetry``: ``pip install
'memori[otel]'``). Spans follow the semantic conventions where they apply: the
generative-AI ones for the call and its retrieval (``gen_ai.operation.name``,
``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.conversation.id``,
``gen_ai.agent.name``, ``gen_ai.data_source.id``), the database ones for store calls
(``db.system.name``, ``db.operation.name``), ``error.type`` for failures. Message
content (the query, the injected block) and the entity id are recorded only with
``capture_content``; exceptions are recorded by class, never by message.
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from memori.core import Scope, Turn
from memori.observability.observer import NullSpan, Observer
from memori.observability.store_proxy import inner_store, instrument

SCOPE_NAME = "memori"
DATA_SOURCE = "memori"
DB_SYSTEMS = {"postgres": "postgresql", "mongo": "mongodb"}
"""Store names whose ``db.system.name`` differs (the rest are the same: sqlite, qdrant)."""


LITELLM_PROVIDERS = {
    "openai": "openai", "text-completion-openai": "openai", "anthropic": "anthropic",
    "azure": "azure.ai.openai", "azure_ai": "azure.ai.inference", "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai", "vertex_ai_beta": "gcp.vertex_ai", "gemini": "gcp.gemini",
    "cohere": "cohere", "cohere_chat": "cohere", "mistral": "mistral_ai", "groq": "groq",
    "deepseek": "deepseek", "xai": "x_ai", "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai", "watsonx_text": "ibm.watsonx.ai",
}
"""litellm's provider prefixes (``anthropic/claude-...``) whose provider has a well-known
``gen_ai.provider.name`` value in the semantic conventions."""


def provider_name(provider: str, kwargs: dict[str, Any]) -> str:
    """``gen_ai.provider.name`` of a call made through a client of kind ``provider``.

    The openai and anthropic clients are their providers (an openai client pointed at
    another endpoint still counts as ``openai``, as the conventions say). A litellm call
    names the provider it is routed to when the call says so cheaply: its
    ``custom_llm_provider`` argument or its model's prefix (``anthropic/...``), mapped to
    the well-known value; otherwise (a bare model name, a provider without a well-known
    value) it is ``litellm``, a custom value as the conventions allow.
    """
    if provider != "litellm":
        return provider
    routed = kwargs.get("custom_llm_provider")
    model = kwargs.get("model")
    if not isinstance(routed, str) and isinstance(model, str) and "/" in model:
        routed = model.split("/", 1)[0]
    return LITELLM_PROVIDERS.get(routed, "litellm") if isinstance(routed, str) else "litellm"


def db_system(store: Any) -> str:
    name = str(getattr(store, "name", "") or "other")
    return DB_SYSTEMS.get(name, name)


class TracedSpan(NullSpan):
    """One span as a context manager: current while open, ended on exit; a failure sets
    the error status and ``error.type`` (the class; the message is never recorded)."""

    __slots__ = ("_duration", "_observer", "_started", "_token", "span")

    def __init__(self, observer: OTelObserver, span: trace.Span,
                 duration: Callable[[float], None] | None = None) -> None:
        self.span = span
        self._observer = observer
        self._duration = duration
        self._token: object = None
        self._started = 0.0

    def __enter__(self) -> TracedSpan:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._started
        if exc is not None:
            self.span.set_attribute("error.type", type(exc).__qualname__)
            self.span.set_status(Status(StatusCode.ERROR))
        otel_context.detach(self._token)  # type: ignore[arg-type]
        self.span.end()
        if self._duration is not None:
            self._duration(elapsed)

    def planned(self, plan: Any) -> None:
        self.span.set_attribute("memori.turns.new", len(plan.turns))
        self.span.set_attribute("memori.context.injected", plan.block is not None)
        plan.trace = trace.set_span_in_context(self.span)

    def found(self, hits: Any) -> Any:
        self.span.set_attribute("memori.recall.hits", len(hits))
        if hits:
            self.span.set_attribute("memori.recall.top_score", float(hits[0].score))
        return hits

    def built(self, block: Any) -> None:
        if block is None:
            self.span.set_attribute("memori.context.tokens", 0)
            return
        self.span.set_attribute("memori.context.tokens", block.tokens)
        self.span.set_attribute("memori.context.memories", block.memories)
        self.span.set_attribute("memori.context.history", block.history)
        if self._observer.capture_content:
            self.span.set_attribute("memori.context.text", block.text)

    def extracted(self, changed: Sequence[Any]) -> None:
        self.span.set_attribute("memori.memories.changed", len(changed))


class OTelObserver(Observer):
    """Spans and metrics for one ``Memori``, through the global (or given) providers."""

    enabled = True

    def __init__(self, *, capture_content: bool = False,
                 tracer_provider: trace.TracerProvider | None = None,
                 meter_provider: metrics.MeterProvider | None = None) -> None:
        from memori import __version__

        self.capture_content = capture_content
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        self.instruments = _instruments(meter_provider)
        self._system = "other"

    # spans
    def _span(self, name: str, attributes: dict[str, Any], *,
              kind: SpanKind = SpanKind.INTERNAL, parent: Any = None,
              duration: Callable[[float], None] | None = None) -> TracedSpan:
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        return TracedSpan(self, span, duration)

    def _scope(self, scope: Scope, attributes: dict[str, Any]) -> dict[str, Any]:
        if scope.session_id is not None:
            attributes["gen_ai.conversation.id"] = scope.session_id
        if scope.process_id is not None:
            attributes["gen_ai.agent.name"] = scope.process_id
        if self.capture_content:
            attributes["memori.entity_id"] = scope.entity_id
        return attributes

    def call(self, api: str, scope: Scope, kwargs: dict[str, Any], *,
             provider: str = "openai") -> TracedSpan:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(provider, kwargs),
            "memori.api": api, "gen_ai.request.stream": kwargs.get("stream") is True,
        }
        model = kwargs.get("model")
        if isinstance(model, str):
            attributes["gen_ai.request.model"] = model
        return self._span("memori.call", self._scope(scope, attributes))

    def recall(self, scope: Scope, query: str) -> TracedSpan:
        attributes = {"gen_ai.operation.name": "retrieval",
                      "gen_ai.data_source.id": DATA_SOURCE, "db.system.name": self._system}
        if self.capture_content:
            attributes["gen_ai.retrieval.query.text"] = query
        record = self.instruments.recall_duration.record
        labels = {"db.system.name": self._system}
        return self._span(f"retrieval {DATA_SOURCE}", self._scope(scope, attributes),
                          duration=lambda seconds: record(seconds, labels))

    def context(self) -> TracedSpan:
        return self._span("memori.context", {})

    def record(self, plan: Any, turns: Sequence[Turn]) -> TracedSpan:
        attributes = self._scope(plan.scope, {"memori.turns": len(turns)})
        return self._span("memori.record", attributes, parent=getattr(plan, "trace", None))

    def extraction(self, turns: Sequence[Turn], extractor: Any) -> TracedSpan:
        name = getattr(extractor, "name", None) or type(extractor).__name__
        return self._span("memori.extract", {"memori.turns": len(turns),
                                             "memori.extractor": str(name)})

    def store_op(self, store: Any, operation: str) -> TracedSpan:
        system = db_system(store)
        return self._span(operation, {"db.system.name": system, "db.system": system,
                                      "db.operation.name": operation}, kind=SpanKind.CLIENT)

    # the store and the pipeline
    def instrument(self, store: Any) -> Any:
        self._system = db_system(store)
        return instrument(store, self)

    def watch(self, mem: Any) -> None:
        self.instruments.watch(mem, db_system(inner_store(mem.store)))


class _Instruments:
    """The process's instruments (created once: a meter keeps the first of a name) and
    the Memori instances whose pipelines they report."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.recall_duration = meter.create_histogram(
            "memori.recall.duration", unit="s",
            description="Time of one recall (the LLM path's and mem.recall)")
        self._watched: weakref.WeakKeyDictionary[Any, dict[str, str]] = (
            weakref.WeakKeyDictionary())
        self._numbers = itertools.count(1)
        gauges: dict[str, tuple[str, str, Callable[[Any], float | None]]] = {
            "memori.write.queue_depth": ("{turn}", "Turns recorded, not yet stored", _queued),
            "memori.augmentation.lag": ("s", "Age of the oldest turn waiting for "
                                              "extraction", _lag),
        }
        for name, (unit, text, read) in gauges.items():
            meter.create_observable_gauge(name, [self._observe(read)], unit=unit,
                                          description=text)
        counters: dict[str, tuple[str, str, Callable[[Any], float | None]]] = {
            "memori.augmentation.parked": ("{turn}", "Turns parked after failed "
                                                     "extractions", _stat("parked")),
            "memori.augmentation.processed": ("{turn}", "Turns extracted",
                                              _stat("processed")),
            "memori.augmentation.failed": ("{batch}", "Failed extraction batches",
                                           _stat("failed")),
            "memori.memories.changed": ("{memory}", "Memories stored or changed by "
                                                    "extraction", _stat("memories")),
            "memori.turns.written": ("{turn}", "Turns stored", _recorded("written")),
            "memori.turns.write_failures": ("{attempt}", "Failed write attempts",
                                            _recorded("write_failures")),
        }
        for name, (unit, text, read) in counters.items():
            meter.create_observable_counter(name, [self._observe(read)], unit=unit,
                                            description=text)

    def watch(self, mem: Any, system: str) -> None:
        self._watched[mem] = {"db.system.name": system,
                              "memori.instance": str(next(self._numbers))}

    def _observe(self, read: Callable[[Any], float | None]) -> Callable[
            [CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            found = []
            for mem, labels in list(self._watched.items()):
                if getattr(mem, "_closed", True):
                    continue
                try:
                    value = read(mem)
                except Exception:  # a store that is down has no lag to report now
                    continue
                if value is not None:
                    found.append(Observation(value, labels))
            return found

        return callback


def _queued(mem: Any) -> float:
    return float(mem.pipeline.recorder.pending())


def _lag(mem: Any) -> float | None:
    if mem.pipeline.runner is None:
        return None
    pending = inner_store(mem.store).outbox_pending(1)  # not traced: no span per reading
    return max(0.0, time.time() - pending[0].created_at) if pending else 0.0


def _stat(name: str) -> Callable[[Any], float | None]:
    def read(mem: Any) -> float | None:
        runner = mem.pipeline.runner
        return None if runner is None else float(getattr(runner.stats, name))

    return read


def _recorded(name: str) -> Callable[[Any], float | None]:
    return lambda mem: float(getattr(mem.pipeline.recorder.stats, name))


_made: dict[int, _Instruments] = {}


def _instruments(meter_provider: metrics.MeterProvider | None) -> _Instruments:
    from memori import __version__

    key = id(meter_provider)
    made = _made.get(key)
    if made is None:
        made = _made[key] = _Instruments(
            metrics.get_meter(SCOPE_NAME, __version__, meter_provider))
    return made
