"""``Memori``: the object an application holds. Scope, recording, recall, forget, flush."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures.thread  # noqa: F401  (imported first: our exit hook runs before its)
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from memori import settings as env
from memori.attribution import CURRENT, EMPTY, Attribution, AttributionScope, next_attribution
from memori.bulk import BulkRemember
from memori.config import open_backend
from memori.core import (
    AsyncExtractor,
    ConfigurationError,
    Embedder,
    Extractor,
    Hit,
    Memory,
    MemoryStore,
    Redactor,
    Retriever,
    Scope,
    SupportsMinRelevance,
    Turn,
    check_id,
    live_hits,
    shared_reads,
)
from memori.core.inputs import (
    MAX_CONTENT_CHARS,
    MAX_LIMIT,
    check_limit,
    check_metadata,
    clean_text,
)
from memori.core.models import new_id
from memori.extractors.resolve import resolve_extractor
from memori.management import MemoryManagement
from memori.memory_filters import MemoryFilter
from memori.observability import (
    Observer,
    apply_log_settings,
    describe_error,
    logs_content,
    observer_for,
)
from memori.pins import PINNED_SHARE, Pinning, check_share, expiry
from memori.pipeline.durability import DURABILITY, open_journal
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.inflight import READ_YOUR_WRITES_SECONDS
from memori.pipeline.outbox_logic import MAX_EXTRACT_CHARS, MAX_MEMORIES_PER_TURN, OutboxPolicy
from memori.pipeline.reconcile import Reconciler
from memori.pipeline.sweeper import SWEEP_EVERY, Sweeper
from memori.pipeline.write_path import Metrics, WritePath
from memori.retention import Retention
from memori.retention import from_env as retention_from_env
from memori.retrieval.budget import select_within_budget
from memori.retrieval.resolve import resolve_retriever
from memori.settings import DEFAULT

if TYPE_CHECKING:
    from memori.llm import LLMRegistry

READ_TIMEOUT_SECONDS = 2.0
"""How long a call's reads wait for a store server that does not answer."""

log = logging.getLogger(__name__)

DEFAULT_TOKEN_BUDGET = 1000
FILTER_OVERFETCH = 5
FILTER_MIN_CANDIDATES = 50
"""A filtered recall ranks ``FILTER_OVERFETCH`` times ``limit`` candidates (at least
``FILTER_MIN_CANDIDATES``) and ranks that many times more while too few pass."""


__all__ = ["CURRENT", "Memori", "Metrics"]


class Memori(MemoryManagement, Pinning, BulkRemember):
    """Long-term memory for an LLM application, stored in the database it already runs.

    ``conn`` is a URL (``sqlite:///...``, ``postgresql://...``, ``mongodb://...``,
    ``qdrant+http://...``), a connection object (SQLAlchemy engine, DB-API or
    psycopg connection, MongoClient, QdrantClient) or None for the embedded
    default (``MEMORI_URL``, else a SQLite file in the per-user data directory).

    The write path (``docs/augmentation.md``): ``durability="journal"`` keeps every
    recorded turn in a local journal until the store holds it, so it survives SIGKILL
    once the call returned (``"memory"``: a few ms of turns are lost on a kill). The
    next call of the same entity waits up to ``read_your_writes`` seconds for that
    entity's own turns to be stored and extracted; its reads wait up to
    ``read_timeout`` seconds (default 2) for a store server that does not answer, then
    the call goes on without memory. ``max_content_chars`` caps one
    turn's or memory's text; ``max_extract_chars`` and ``max_memories_per_turn`` bound
    what extraction reads and produces per turn. ``redactor`` (e.g. ``"secrets"``)
    rewrites every turn and memory before it is journaled, embedded or stored.

    An operator sets what the application leaves at its default through ``MEMORI_*``
    variables (``docs/configuration.md``): ``embedder``, ``extractor`` and ``redactor``
    given as ``"default"``, and every setting given as None, are read from them; an
    explicit argument always wins. ``disabled`` makes registered clients pass their
    calls through; ``relevance_floor`` is the built-in retriever's floor; ``otel``
    switches OpenTelemetry spans and metrics on (``docs/observability.md``), with
    message content in them only if ``otel_capture_content``.

    Pinned memories and expiry (``docs/managing.md``): ``pinned_share`` of the token
    budget (default 0.25) is the most pinned memories take; ``retention`` (kind ->
    seconds, ``"default"`` for the rest; ``MEMORI_RETENTION``) sets when new memories
    expire; ``sweep_every`` seconds (default 600; None: never) bound the background
    sweep of expired memories.
    """

    def __init__(
        self,
        conn: Any = None,
        *,
        embedder: Embedder | str | None = DEFAULT,
        extractor: Extractor | AsyncExtractor | str | None = DEFAULT,
        retriever: Retriever | str | None = None,
        migrate: bool = False,
        strict: bool | None = None,
        token_budget: int | None = None,
        recall_limit: int | None = None,
        store_options: dict[str, Any] | None = None,
        durability: str | None = None,
        read_your_writes: float | None = None,
        read_timeout: float | None = None,
        max_content_chars: int = MAX_CONTENT_CHARS,
        max_extract_chars: int = MAX_EXTRACT_CHARS,
        max_memories_per_turn: int = MAX_MEMORIES_PER_TURN,
        redactor: Redactor | str | Sequence[Redactor | str] | None = DEFAULT,
        relevance_floor: float | None = None,
        disabled: bool | None = None,
        otel: bool | None = None,
        otel_capture_content: bool | None = None,
        retention: dict[str, float | None] | Retention | None = None,
        pinned_share: float = PINNED_SHARE,
        sweep_every: float | None = SWEEP_EVERY,
    ) -> None:
        from memori.embedders.resolve import default_embedder, resolve_embedder
        from memori.redaction import resolve_redactor

        # every setting is checked and resolved before the store is opened; a setting
        # left at its default is taken from its MEMORI_* variable (memori.settings)
        apply_log_settings()
        durability = env.pick(durability, env.DURABILITY,
                              lambda n: env.choice(n, DURABILITY), "journal")
        if durability not in DURABILITY:
            raise ConfigurationError(
                f"durability must be one of {', '.join(DURABILITY)}; got {durability!r}")
        read_your_writes = env.pick(read_your_writes, env.READ_YOUR_WRITES,
                                    lambda n: env.number(n, 0, 60, " of seconds"),
                                    READ_YOUR_WRITES_SECONDS)
        if type(read_your_writes) not in (int, float) or not 0 <= read_your_writes <= 60:
            raise ValueError(f"read_your_writes must be seconds from 0 to 60, "
                             f"got {read_your_writes!r}")
        read_timeout = env.pick(read_timeout, env.READ_TIMEOUT,
                                lambda n: env.number(n, 0.01, 60, " of seconds"),
                                READ_TIMEOUT_SECONDS)
        if type(read_timeout) not in (int, float) or not 0 < read_timeout <= 60:
            raise ValueError(f"read_timeout must be seconds above 0, at most 60, "
                             f"got {read_timeout!r}")
        self.read_timeout: float = float(read_timeout)
        """A call's reads wait for a store server at most this long (``docs/llm.md``)."""
        self.recall_limit = check_limit(
            env.pick(recall_limit, env.RECALL_LIMIT, lambda n: env.integer(n, 1, 10_000), 10),
            "recall_limit")
        self.max_content_chars = check_limit(max_content_chars, "max_content_chars",
                                             maximum=1 << 31)
        policy = OutboxPolicy(
            max_extract_chars=check_limit(max_extract_chars, "max_extract_chars",
                                          maximum=1 << 31),
            max_memories_per_turn=check_limit(max_memories_per_turn, "max_memories_per_turn"))
        self.strict: bool = env.pick(strict, env.STRICT, env.flag, False)
        """The LLM path raises memory failures instead of going on without memory."""
        self.disabled: bool = env.pick(disabled, env.DISABLED, env.flag, False)
        """Registered clients pass every call through, without reading or writing memory."""
        self.pinned_share = check_share(pinned_share)
        """At most this share of the token budget goes to pinned memories."""
        self.retention = Retention.of(retention) if retention is not None \
            else retention_from_env() or Retention()
        """When new memories expire, by kind (``docs/configuration.md``)."""
        if sweep_every is not None and (type(sweep_every) not in (int, float)
                                        or not sweep_every > 0):
            raise ValueError(f"sweep_every must be positive seconds or None, got {sweep_every!r}")
        self.token_budget: int = env.pick(
            token_budget, env.TOKEN_BUDGET, lambda n: env.integer(n, 0, 1_000_000),
            DEFAULT_TOKEN_BUDGET)
        self.redactor: Redactor | None = _resolved(redactor, env.REDACTOR, resolve_redactor,
                                                   fallback=None)
        extractor_obj = _resolved(extractor, env.EXTRACTOR, _extractor, fallback="offline")
        self.embedder: Embedder | None = _resolved(
            embedder, env.EMBEDDER, resolve_embedder, fallback=None, default=default_embedder)
        self.retriever: Retriever = _retriever(retriever, self.embedder, relevance_floor)
        self.observer: Observer = observer_for(
            env.pick(otel, env.OTEL, env.flag, False),
            capture_content=env.pick(otel_capture_content, env.OTEL_CAPTURE_CONTENT,
                                     env.flag, False))
        """Spans and metrics (``otel=True`` / ``MEMORI_OTEL=1``); a no-op otherwise."""
        vector_dim = self.embedder.dim if self.embedder is not None else None
        self.store: MemoryStore = self.observer.instrument(open_backend(
            conn, vector_dim=vector_dim, migrate=migrate, **(store_options or {})
        ))
        self._attr: ContextVar[Attribution] = ContextVar(f"memori-{id(self):x}", default=EMPTY)
        self._paused: ContextVar[bool] = ContextVar(f"memori-paused-{id(self):x}", default=False)
        self.foreground = ForegroundGate()
        """Recall for calls holds it; recording and extraction wait for it (briefly)."""
        try:
            self.store.setup()
            self._reconciler = Reconciler(
                self.store, self.embedder,
                retention=self.retention.apply if self.retention.active else None)
            self.pipeline = WritePath(
                self.store, self.embedder, extractor_obj, self._reconciler,
                journal=open_journal(conn, self.store, durability, store_options),
                gate=self.foreground, context_init=lambda: self._paused.set(True),
                policy=policy, read_your_writes=read_your_writes,
            )
        except BaseException:
            self.store.close()
            raise
        """The write path: recorder, journal, extraction (see :mod:`memori.pipeline`)."""
        self._recorder = self.pipeline.recorder
        self._worker = self.pipeline.runner
        self._sweeper = Sweeper(self.store, sweep_every, armed=self.retention.active)
        """Sweeps expired memories in the background, at most once per ``sweep_every``."""
        _live.add(self)
        self.pipeline.start()
        self.observer.watch(self)
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
        metadata: dict[str, Any] | None = None, pinned: bool = False,
        expires_at: Any = None, ttl: float | None = None,
    ) -> Memory:
        """Store a memory now (embedded when an embedder is set) and return it.

        ``pinned``: injected first by every call of a scope that sees it.
        ``expires_at`` (a ``datetime`` or epoch seconds) or ``ttl`` (seconds from now):
        when it expires, instead of the retention policy's time for its kind.
        ``ValueError`` naming the field for text that is empty or longer than
        ``max_content_chars``, and metadata that JSON cannot hold exactly.
        """
        scope = self._scope_for(entity_id, process_id)
        memory = self._new_memory(scope, text, kind=kind, shared=shared, metadata=metadata,
                                  pinned=pinned, expires_at=expires_at, ttl=ttl)
        memory = replace(memory, embedding=self._embed_one(memory.content))
        changed = self._reconciler.apply([memory])
        self._memories_changed(scope.entity_id, memory.expires_at)
        return changed[0] if changed else memory

    def _new_memory(
        self, scope: Scope, text: str, *, kind: str, shared: bool,
        metadata: dict[str, Any] | None, pinned: bool, expires_at: Any, ttl: float | None,
    ) -> Memory:
        """A memory of ``scope`` from a user's arguments, checked and redacted (no vector)."""
        text = self.redact(clean_text(text, "text", max_chars=self.max_content_chars))
        if not text.strip():
            raise ValueError("text must not be empty")
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind must be a non-empty str")
        if not isinstance(shared, bool):
            raise ValueError(f"shared must be a bool, got {type(shared).__name__}")
        if not isinstance(pinned, bool):
            raise ValueError(f"pinned must be a bool, got {type(pinned).__name__}")
        return Memory(
            entity_id=scope.entity_id, process_id=scope.process_id, shared=shared,
            kind=kind, content=text, session_id=scope.session_id,
            metadata=check_metadata(metadata), pinned=pinned,
            expires_at=expiry(expires_at, ttl),
        )

    def _embed_one(self, text: str) -> tuple[float, ...] | None:
        if self.embedder is None or self.store.vector_dim is None:
            return None
        from memori.pipeline.recorder import EMBED_MAX_CHARS

        return tuple(self.embedder.embed([text[:EMBED_MAX_CHARS]])[0])

    def recall(
        self, query: str, *, limit: int | None = None, token_budget: int | None = None,
        include_history: bool = False, entity_id: str | None = None, process_id: Any = CURRENT,
        min_relevance: float = 0.0, kind: str | None = None,
        metadata: dict[str, Any] | None = None, since: Any = None, until: Any = None,
        shared: bool | None = None,
    ) -> list[Hit]:
        """What the current scope (or the one named) remembers about ``query``, best first.

        Every hit carries its absolute ``relevance`` (and ``overlap``, ``cosine``) in
        ``signals``; ``min_relevance`` leaves out hits below it (default 0: all ranked
        hits; the LLM path injects only those at or above the retriever's floor, 0.5).
        ``kind``, ``metadata`` (each key equal) and ``since`` / ``until`` (``created_at``
        bounds) filter the hits; ``shared=True`` keeps the memories every persona of the
        entity sees (persona-less or shared), ``False`` a persona's own unshared ones;
        ``kind``, ``metadata`` and ``shared`` leave turns out.
        Sees the turns this process recorded for the entity (it waits briefly for them).
        """
        query = clean_text(query, "query", max_chars=self.max_content_chars)
        limit = self.recall_limit if limit is None else check_limit(limit)
        if type(min_relevance) not in (int, float) or not 0 <= min_relevance <= 1:
            raise ValueError(f"min_relevance must be from 0 to 1, got {min_relevance!r}")
        wanted = MemoryFilter.of(kind=kind, metadata=metadata, since=since, until=until,
                                 shared=shared)
        scope = self._scope_for(entity_id, process_id)
        self.pipeline.wait_for(scope.entity_id)
        floor = ({"min_relevance": float(min_relevance)}
                 if isinstance(self.retriever, SupportsMinRelevance) else {})
        with self.observer.recall(scope, query) as span, shared_reads(self.store):
            if not wanted.active:  # expired memories are never recalled (any retriever)
                return span.found(live_hits(self.retriever.retrieve(
                    self.store, scope, query, limit=limit,
                    token_budget=token_budget, include_history=include_history, **floor,
                ), time.time()))
            # filters apply after ranking: rank more candidates until enough pass
            wanted_hits = min(MAX_LIMIT, max(limit * FILTER_OVERFETCH, FILTER_MIN_CANDIDATES))
            while True:
                hits = self.retriever.retrieve(
                    self.store, scope, query, limit=wanted_hits,
                    token_budget=None, include_history=include_history, **floor,
                )
                kept = [h for h in live_hits(hits, time.time())
                        if isinstance(h.item, Memory | Turn) and wanted.matches(h.item)]
                if len(kept) >= limit or len(hits) < wanted_hits or wanted_hits >= MAX_LIMIT:
                    break
                wanted_hits = min(MAX_LIMIT, wanted_hits * FILTER_OVERFETCH)
            return span.found(select_within_budget(kept, limit, token_budget))

    def memories(self, *, include_history: bool = False, limit: int | None = None) -> list[Memory]:
        """The memories the current scope sees, oldest first (after its entity's own
        recorded turns are settled, as for recall); expired ones are left out."""
        if limit is not None:
            check_limit(limit)
        scope = self.scope()
        self.pipeline.wait_for(scope.entity_id)
        at = time.time()
        found = self.store.list_memories(scope, include_superseded=include_history, limit=limit)
        return [m for m in found if not m.expired(at)]

    # agent tools (docs/mcp.md)
    def tools(self, *, format: str = "chat") -> list[dict[str, Any]]:
        """The memory tools as OpenAI function tools: ``"chat"`` (chat completions) or
        ``"responses"`` (the Responses API's flat form). No tool takes an entity."""
        from memori.tools import tool_schemas

        return tool_schemas(format)

    def call_tool(self, name: str, arguments: Any = None) -> dict[str, Any]:
        """Run one memory tool (arguments: a dict or the model's JSON text) in the current
        attribution; a JSON-serialisable result. ``ToolError`` for an unknown tool or bad
        arguments, with a message to send back to the model."""
        from memori.tools import call_tool

        return call_tool(self, name, arguments)

    # turns
    def record(self, turns: Sequence[Turn]) -> None:
        """Journal and queue turns for writing (the LLM path's way in); ``ValueError``
        naming the field for a turn the stores could not hold."""
        if self.is_paused:
            return
        for turn in turns:
            if not isinstance(turn, Turn):
                raise ValueError(f"record takes Turn objects, got {type(turn).__name__}")
            cleaned = clean_text(turn.content, "content", max_chars=self.max_content_chars)
            if cleaned is not turn.content:
                raise ValueError("content must not hold NUL or lone surrogates")
            check_metadata(turn.metadata)
        if self.redactor is not None:
            turns = [replace(t, content=self.redact(t.content)) for t in turns]
        self.pipeline.record(turns)

    def redact(self, text: str) -> str:
        """``text`` as it may be stored: through the redactor, if one is set."""
        return text if self.redactor is None else self.redactor.redact(text)

    def history(self, limit: int = 20) -> list[Turn]:
        """The latest turns of the current (entity, persona, session), oldest first."""
        self._recorder.flush()
        return self.store.list_turns(self.scope(), limit=limit)

    # lifecycle
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is stored and extracted.

        Returns False if ``timeout`` (seconds) ran out first. Raises ``FlushError``
        (how many turns, and the cause: error class and message, never message text)
        when turns were set aside or parked, or the store kept failing for a few
        seconds; nothing is lost then (see :meth:`retry`). On the event loop thread
        that runs a loop-bound extractor it cannot wait for extraction: use
        ``await mem.aflush()`` there (``FlushOnLoopError`` when turns are still to extract).
        """
        return self.pipeline.flush(timeout)

    def retry(self) -> int:
        """Queue parked turns for extraction again and record set-aside turns again;
        returns how many. ``memori retry URL`` does the same from the shell."""
        return self.pipeline.retry()

    @property
    def metrics(self) -> Metrics:
        """Counters of the write and augmentation pipeline (a snapshot)."""
        return self.pipeline.metrics()

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush (bounded by ``timeout``), stop background work and close the store."""
        if self._closed:
            return
        self._closed = True
        if self._llm is not None:
            self._llm.unregister_all()
            self._llm.engine.bounded.close()  # its readers end once their reads do
        try:
            self._sweeper.close(timeout)
            self.pipeline.close(timeout)
        finally:
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
    async def arecord(self, turns: Sequence[Turn]) -> None:
        self.record(turns)  # journals and queues only: no store I/O on the loop

    async def aretry(self) -> int:
        return await asyncio.to_thread(self.retry)

    async def aremember(self, text: str, **kwargs: Any) -> Memory:
        return await asyncio.to_thread(self.remember, text, **kwargs)

    async def arecall(self, query: str, **kwargs: Any) -> list[Hit]:
        return await asyncio.to_thread(self.recall, query, **kwargs)

    async def acall_tool(self, name: str, arguments: Any = None) -> dict[str, Any]:
        return await asyncio.to_thread(self.call_tool, name, arguments)

    async def aflush(self, timeout: float | None = None) -> bool:
        """``flush`` for async code (a loop-bound extractor's task is awaited here)."""
        return await self.pipeline.aflush(timeout)

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """``close`` for async code: a loop-bound extractor's task ends cleanly on this loop."""
        if not self._closed:
            await self.pipeline.aclose(timeout)
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

    def __reduce__(self) -> Any:
        """A ``Memori`` is not sent to another process (pickled) or copied: it holds open
        connections, a journal and threads. Say so, instead of pickle's message about a
        connection factory deep inside."""
        raise TypeError(
            "a Memori cannot be pickled or copied (it holds open connections and threads): "
            "make one in each process with the same URL, Memori(url); a forked child "
            "(multiprocessing's 'fork') may use the parent's")




def _resolved(
    value: Any, variable: str, resolve: Callable[[Any], Any], *, fallback: Any,
    default: Callable[[], Any] | None = None,
) -> Any:
    """A component from its argument, or (argument ``"default"``) from ``variable``, else
    ``fallback`` (``default()`` when given). A bad name from the variable names it."""
    value, source = env.named(value, variable)
    if isinstance(value, str) and value == DEFAULT:
        return default() if default is not None else resolve(fallback)
    with env.naming(source):
        return resolve(value)


def _extractor(value: Any) -> Extractor | AsyncExtractor | None:
    """``llm:<model>``: the LLM extractor on an ``openai.OpenAI()``; else a name or object."""
    if isinstance(value, str) and value.strip().startswith("llm:"):
        return env.llm_extractor(value.strip())  # type: ignore[no-any-return]
    return resolve_extractor(value)


def _retriever(
    retriever: Retriever | str | None, embedder: Embedder | None, floor: float | None
) -> Retriever:
    """The retriever; the built-in one takes the relevance floor (argument, else
    ``MEMORI_RELEVANCE_FLOOR``). A floor argument with a retriever of one's own is an error:
    set it on that retriever."""
    if retriever is not None:
        if floor is not None:
            raise ConfigurationError("relevance_floor applies to the built-in retriever; "
                                     "set the floor on the retriever passed instead")
        return resolve_retriever(retriever, embedder=embedder)
    if floor is not None and (type(floor) not in (int, float) or not 0 <= floor <= 1):
        raise ConfigurationError(f"relevance_floor must be from 0 to 1, got {floor!r}")
    floor = env.pick(floor, env.RELEVANCE_FLOOR, lambda n: env.number(n, 0, 1), None)
    if floor is None:
        return resolve_retriever(None, embedder=embedder)
    from memori.retrieval.hybrid import HybridRetriever

    return HybridRetriever(embedder=embedder, min_relevance=float(floor))


ATEXIT_FLUSH_SECONDS = 5.0
_live: weakref.WeakSet[Memori] = weakref.WeakSet()


def _flush_before_pools_stop() -> None:
    """At interpreter exit, while the thread pools still run (threading's exit hooks run
    before theirs, newest first): store and extract what was recorded (bounded).
    Threads of the application may still run: nothing is closed here."""
    for mem in list(_live):
        try:
            mem.flush(timeout=ATEXIT_FLUSH_SECONDS)
        except Exception as e:  # FlushError names the cause; the close below retries
            log.warning("memori: flush at exit: %s", describe_error(e))


def _close_at_exit() -> None:
    """Scripts that never call close() are closed last (bounded): what is left stays
    journaled or pending, and the next process that opens the store resumes it."""
    for mem in list(_live):
        try:
            mem.close(timeout=ATEXIT_FLUSH_SECONDS)
        except Exception as e:  # the traceback only on request: it may quote stored text
            log.error("memori: close at exit failed (%s)", describe_error(e),
                      exc_info=logs_content())


def _register_exit_hooks() -> None:
    atexit.register(_close_at_exit)
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # shutdown already started
            register(_flush_before_pools_stop)


_register_exit_hooks()
