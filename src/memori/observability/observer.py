"""The hooks memori calls around its work, and the disabled observer that does nothing.

The LLM path, recall and the extraction workers call an :class:`Observer` at the
points worth a span; the store is wrapped by :meth:`Observer.instrument`. The base
class is the disabled observer: each hook returns the shared :class:`NullSpan`, so
a call pays a few attribute lookups and nothing is imported. The OpenTelemetry
observer (``memori.observability.otel``) is loaded only when switched on.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from memori.core import MissingExtraError
from memori.observability.store_proxy import InstrumentedStore

if TYPE_CHECKING:
    from memori.core import MemoryStore, Scope, Turn

T = TypeVar("T")


class NullSpan:
    """A span that records nothing (the disabled observer's, and its context manager)."""

    __slots__ = ()

    def __enter__(self) -> NullSpan:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def planned(self, plan: Any) -> None:
        """The call's plan is built (its context block, the turns it adds)."""

    def found(self, hits: T) -> T:
        """Recall returned ``hits``; returns them."""
        return hits

    def built(self, block: Any) -> None:
        """The context block was assembled (None: nothing injected)."""

    def extracted(self, changed: Sequence[Any]) -> None:
        """An extraction batch stored or changed these memories."""


NULL_SPAN = NullSpan()


class Observer:
    """The disabled observer: every hook is free and records nothing."""

    enabled = False
    capture_content = False

    def call(self, api: str, scope: Scope, kwargs: dict[str, Any], *,
             provider: str = "openai") -> NullSpan:
        """Memory's work for one intercepted model call, before the call is sent."""
        return NULL_SPAN

    def recall(self, scope: Scope, query: str) -> NullSpan:
        """One retrieval (the LLM path's or ``mem.recall``)."""
        return NULL_SPAN

    def context(self) -> NullSpan:
        """Assembling the context block of a call."""
        return NULL_SPAN

    def record(self, plan: Any, turns: Sequence[Turn]) -> NullSpan:
        """Queueing a call's turns (``plan.trace`` names the call's span)."""
        return NULL_SPAN

    def extraction(self, turns: Sequence[Turn], extractor: Any) -> NullSpan:
        """One extraction batch: extract, reconcile, mark."""
        return NULL_SPAN

    def instrument(self, store: MemoryStore) -> MemoryStore:
        """The store this Memori uses (a traced proxy when enabled)."""
        return store

    def watch(self, mem: Any) -> None:
        """Export this Memori's pipeline gauges and counters (when enabled)."""


NOOP = Observer()


def observer_for(enabled: bool, *, capture_content: bool = False) -> Observer:
    """:data:`NOOP` unless ``enabled``; then the OpenTelemetry observer (needs the
    ``otel`` extra: ``MissingExtraError`` naming it otherwise)."""
    if not enabled:
        return NOOP
    try:
        from memori.observability.otel import OTelObserver
    except ImportError as e:
        raise MissingExtraError(
            "otel", "OpenTelemetry (Memori(otel=True) or MEMORI_OTEL=1)") from e
    return OTelObserver(capture_content=capture_content)


def observer_of(store: Any) -> Observer:
    """The observer whose proxy ``store`` is (:data:`NOOP` for a plain store)."""
    return store.observer if isinstance(store, InstrumentedStore) else NOOP
