"""``Memori``: the object an application holds. Scope, recording, recall, forget, flush."""

from __future__ import annotations

import asyncio
import atexit
import logging
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from memori.attribution import EMPTY, Attribution, AttributionScope, next_attribution
from memori.config import open_backend
from memori.core import (
    AsyncExtractor,
    Embedder,
    Extractor,
    Hit,
    Memory,
    MemoryStore,
    Retriever,
    Scope,
    Turn,
    check_id,
)
from memori.core.models import new_id
from memori.extractors.resolve import resolve_extractor
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.outbox_logic import AugmentationStats
from memori.pipeline.reconcile import Reconciler
from memori.pipeline.recorder import TurnRecorder
from memori.pipeline.runner import AugmentationRunner, FlushOnLoopError
from memori.retrieval import HybridRetriever

if TYPE_CHECKING:
    from memori.llm import LLMRegistry

log = logging.getLogger("memori")

DEFAULT_TOKEN_BUDGET = 1000


@dataclass(frozen=True)
class Metrics:
    """Pipeline counters: turns queued/written, augmentation processed/failed/parked, lag (s)."""

    queued: int
    written: int
    write_failures: int
    dropped: int
    processed: int
    failed: int
    parked: int
    memories: int
    lag: float


class _Current:
    """Sentinel: take the persona from the current attribution."""

    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Any = _Current()


class Memori:
    """Long-term memory for an LLM application, stored in the database it already runs.

    ``conn`` is a URL (``sqlite:///...``, ``postgresql://...``, ``mongodb://...``,
    ``qdrant+http://...``), a connection object (SQLAlchemy engine, DB-API or
    psycopg connection, MongoClient, QdrantClient) or None for the embedded
    default (``MEMORI_URL``, else a SQLite file in the per-user data directory).
    """

    def __init__(
        self,
        conn: Any = None,
        *,
        embedder: Embedder | str | None = "default",
        extractor: Extractor | AsyncExtractor | str | None = "offline",
        retriever: Retriever | None = None,
        migrate: bool = False,
        strict: bool = False,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        recall_limit: int = 10,
        store_options: dict[str, Any] | None = None,
    ) -> None:
        from memori.embedders.resolve import default_embedder, resolve_embedder

        self.embedder: Embedder | None = (
            default_embedder() if embedder == "default" else resolve_embedder(embedder)
        )
        vector_dim = self.embedder.dim if self.embedder is not None else None
        self.store: MemoryStore = open_backend(
            conn, vector_dim=vector_dim, migrate=migrate, **(store_options or {})
        )
        try:
            self.store.setup()
        except BaseException:
            self.store.close()
            raise
        self.retriever: Retriever = retriever or HybridRetriever(embedder=self.embedder)
        self.strict = strict
        self.token_budget = token_budget
        self.recall_limit = recall_limit
        self._attr: ContextVar[Attribution] = ContextVar(f"memori-{id(self):x}", default=EMPTY)
        self._paused: ContextVar[bool] = ContextVar(f"memori-paused-{id(self):x}", default=False)
        self._reconciler = Reconciler(self.store, self.embedder)
        self.foreground = ForegroundGate()
        """Recall for calls holds it; recording and extraction wait for it (briefly)."""
        extractor_obj = resolve_extractor(extractor)
        # extraction runs on a thread, or as a task on the app's loop once async code uses it
        self._worker: AugmentationRunner | None = None
        if extractor_obj is not None:
            self._worker = AugmentationRunner(
                self.store, extractor_obj, self._reconciler,
                context_init=lambda: self._paused.set(True), gate=self.foreground,
            )
        self._recorder = TurnRecorder(
            self.store, self.embedder,
            on_written=None if self._worker is None else _notifier(self._worker),
            gate=self.foreground,
        )
        _live.add(self)
        self._llm: LLMRegistry | None = None
        self._closed = False

    # attribution and sessions
    def attribution(
        self, entity_id: str, process_id: str | None = None, session_id: str | None = None
    ) -> AttributionScope:
        """Set who the following calls are for (in this thread or task).

        Changing the entity or persona without naming a session starts a new one.
        Use as a plain call, or ``with mem.attribution(...):`` to restore afterwards.
        """
        value = next_attribution(self._attr.get(), entity_id, process_id, session_id)
        return AttributionScope(self._attr, value)

    @property
    def current(self) -> Attribution:
        """The attribution of the current context (entity may be None)."""
        return self._attr.get()

    def scope(self) -> Scope:
        """The current scope; ValueError when no entity is attributed."""
        return self._attr.get().scope()

    def set_session(self, session_id: str) -> None:
        """Continue (or name) a conversation in the current context."""
        check_id(session_id, "session_id")
        cur = self._attr.get()
        self._attr.set(Attribution(cur.entity_id, cur.process_id, session_id))

    def new_session(self) -> str:
        """Start a new conversation in the current context and return its id."""
        session_id = new_id()
        self.set_session(session_id)
        return session_id

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made inside neither read nor write memory."""
        token = self._paused.set(True)
        try:
            yield
        finally:
            self._paused.reset(token)

    @property
    def is_paused(self) -> bool:
        return self._paused.get()

    def _scope_for(self, entity_id: str | None, process_id: Any) -> Scope:
        """The current scope, or the entity named (persona as given, default none)."""
        if entity_id is None:
            base = self._attr.get().scope()
            pid = base.process_id if process_id is CURRENT else process_id
            return Scope(base.entity_id, pid, base.session_id)
        return Scope(entity_id, None if process_id is CURRENT else process_id, None)

    # memories
    def remember(
        self, text: str, *, kind: str = "note", shared: bool = False,
        entity_id: str | None = None, process_id: Any = CURRENT,
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        """Store a memory now (embedded when an embedder is set) and return it."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty str")
        scope = self._scope_for(entity_id, process_id)
        memory = Memory(
            entity_id=scope.entity_id, process_id=scope.process_id, shared=shared,
            kind=kind, content=text, session_id=scope.session_id,
            metadata=dict(metadata or {}), embedding=self._embed_one(text),
        )
        changed = self._reconciler.apply([memory])
        return changed[0] if changed else memory

    def _embed_one(self, text: str) -> tuple[float, ...] | None:
        if self.embedder is None or self.store.vector_dim is None:
            return None
        return tuple(self.embedder.embed([text])[0])

    def recall(
        self, query: str, *, limit: int | None = None, token_budget: int | None = None,
        include_history: bool = False, entity_id: str | None = None, process_id: Any = CURRENT,
    ) -> list[Hit]:
        """What the current scope (or the one named) remembers about ``query``, best first."""
        if not isinstance(query, str):
            raise ValueError("query must be a str")
        scope = self._scope_for(entity_id, process_id)
        return self.retriever.retrieve(
            self.store, scope, query, limit=limit or self.recall_limit,
            token_budget=token_budget, include_history=include_history,
        )

    def memories(self, *, include_history: bool = False, limit: int | None = None) -> list[Memory]:
        """The memories the current scope sees, oldest first."""
        return self.store.list_memories(
            self.scope(), include_superseded=include_history, limit=limit
        )

    def forget(self, *, entity_id: str) -> int:
        """Erase everything stored for ``entity_id`` (GDPR erasure); returns items removed."""
        check_id(entity_id, "entity_id")
        self._recorder.flush()
        removed = self.store.forget(entity_id)
        if self._llm is not None:
            self._llm.forget_entity(entity_id)  # its cached session history goes too
        return removed

    # turns
    def record(self, turns: Sequence[Turn]) -> None:
        """Queue turns for durable writing (used by the LLM interceptors)."""
        if not self.is_paused:
            self._recorder.submit(turns)
            if self._worker is not None:
                self._worker.use_running_loop()

    def history(self, limit: int = 20) -> list[Turn]:
        """The latest turns of the current (entity, persona, session), oldest first."""
        self._recorder.flush()
        return self.store.list_turns(self.scope(), limit=limit)

    # lifecycle
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is stored and extracted.

        Returns False if ``timeout`` (seconds) ran out first. On the event loop thread
        that runs augmentation it cannot wait for extraction: use ``await mem.aflush()``
        there (``FlushOnLoopError`` when turns are still to extract).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._recorder.flush(timeout):
            return False
        if self._worker is None:
            return True
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._worker.drain(remaining)

    @property
    def metrics(self) -> Metrics:
        """Counters of the write and augmentation pipeline (a snapshot)."""
        rec = self._recorder.stats
        aug = self._worker.stats if self._worker else AugmentationStats()
        return Metrics(
            queued=self._recorder.pending(), written=rec.written,
            write_failures=rec.write_failures, dropped=rec.dropped,
            processed=aug.processed, failed=aug.failed, parked=aug.parked,
            memories=aug.memories,
            lag=self._lag(),
        )

    def _lag(self) -> float:
        """Seconds the oldest waiting turn has waited; NaN while the store cannot say."""
        if self._worker is None:
            return 0.0
        try:
            return self._worker.lag()
        except Exception:  # metrics must not fail while the store is down
            return float("nan")

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush (bounded by ``timeout``), stop background work and close the store."""
        if self._closed:
            return
        self._closed = True
        if self._llm is not None:
            self._llm.unregister_all()
        try:
            ok = self.flush(timeout)
        except FlushOnLoopError:  # sync close inside async code: extraction resumes later
            ok = False
        self._recorder.close(0 if not ok else timeout)
        if self._worker is not None:
            self._worker.close()
        if not ok:
            log.error("memori: closed before the pipeline drained (%d turn(s) still "
                      "unwritten; unextracted turns resume on the next start)",
                      self._recorder.pending())
        _live.discard(self)
        self.store.close()

    def __enter__(self) -> Memori:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # async twins: database and model I/O run off the event loop
    async def aremember(self, text: str, **kwargs: Any) -> Memory:
        return await asyncio.to_thread(self.remember, text, **kwargs)

    async def arecall(self, query: str, **kwargs: Any) -> list[Hit]:
        return await asyncio.to_thread(self.recall, query, **kwargs)

    async def aforget(self, *, entity_id: str) -> int:
        return await asyncio.to_thread(self.forget, entity_id=entity_id)

    async def aflush(self, timeout: float | None = None) -> bool:
        """``flush`` for async code: extraction runs as a task on this loop, awaited here."""
        if self._worker is None:
            return await asyncio.to_thread(self.flush, timeout)
        self._worker.use_running_loop()
        deadline = None if timeout is None else time.monotonic() + timeout
        if not await asyncio.to_thread(self._recorder.flush, timeout):
            return False
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return await self._worker.adrain(remaining)

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """``close`` for async code: the augmentation task ends cleanly on this loop."""
        if not self._closed and self._worker is not None:
            await self.aflush(timeout)
            await self._worker.aclose(timeout)
        await asyncio.to_thread(self.close, timeout)

    async def __aenter__(self) -> Memori:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def llm(self) -> LLMRegistry:
        """Registers OpenAI clients so their calls read and write this memory."""
        if self._llm is None:
            from memori.llm import LLMRegistry

            self._llm = LLMRegistry(self)
        return self._llm

    def __repr__(self) -> str:
        return f"Memori(store={self.store!r})"




def _notifier(worker: AugmentationRunner) -> Callable[[Sequence[Turn]], None]:
    def notify(_turns: Sequence[Turn]) -> None:
        worker.notify()

    return notify


ATEXIT_FLUSH_SECONDS = 5.0
_live: weakref.WeakSet[Memori] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Scripts that never call close() still get their last turns stored (bounded wait)."""
    for mem in list(_live):
        try:
            mem.close(timeout=ATEXIT_FLUSH_SECONDS)
        except Exception:
            log.exception("memori: flush at exit failed")
