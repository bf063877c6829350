"""What one intercepted call does with memory: plan (read, inject) and commit (record).

Planning reads the scope from the context, the session's recent turns and the
memories recalled for the latest user message, and builds the request the model
receives. Committing queues the new user/tool turns and the reply to the
write-behind recorder, whose stored turns feed augmentation (the outbox). Both
fail open: a broken store costs the call its memory, never its answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from memori.core import (
    Capability,
    Hit,
    Memory,
    PendingVector,
    Scope,
    SupportsAsyncRetrieve,
    SupportsListPinned,
    SupportsStartQuery,
    Turn,
    list_pinned,
    live_hits,
    reads_locally,
    recent_turns,
    shared_reads,
)
from memori.core.conforms import conforms
from memori.core.inputs import coerce_metadata, truncate_text
from memori.llm.context import BlockStart, ContextBlock, finish_block, start_block
from memori.llm.continuation import UNKNOWN, ContinuationIndex, Ref
from memori.llm.deadline import BoundedReads, ReadTimeout
from memori.llm.messages import Draft, latest_user_text, select_new
from memori.llm.pinned import PinnedCache
from memori.llm.session import SessionCache
from memori.llm.stats import Counters, LLMStats, memory_failure
from memori.retrieval import count_tokens

if TYPE_CHECKING:
    from memori.facade import Memori

log = logging.getLogger(__name__)

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
MAX_QUERY_CHARS = 2000
R = TypeVar("R")
LOOP_START_TOKENS = 20
"""On the async path, the embedding of a query of at least this many tokens is begun on
the event loop's thread, handed to the model's worker before the hop to the reads'
thread (the model's run outlasts the hop); a shorter query's in the reads' thread, where
the loop's share of the work would only delay the text searches."""


@dataclass(frozen=True)
class Request:
    """A call's arguments with its message list copied, and that list as drafts.

    ``server_history`` is set when the API keeps the conversation itself (Responses
    ``previous_response_id`` / ``conversation``): session history is then not injected.
    ``continues`` names what such a request continues; the call then runs in the
    session where that was recorded (see :mod:`memori.llm.continuation`).
    """

    kwargs: dict[str, Any]
    drafts: list[Draft]
    server_history: bool = False
    continues: Ref | None = None


class Api(Protocol):
    """How memory reads and rewrites one endpoint's requests and reads its replies."""

    name: str
    provider: str
    """The client's kind (``openai``, ``anthropic``, ``litellm``): the span's provider."""

    def read(self, kwargs: dict[str, Any]) -> Request | None: ...
    def inject(self, request: Request, block: str) -> dict[str, Any]: ...
    def reply(self, result: Any) -> Draft | Sequence[Draft] | None: ...
    def stream_reply(self) -> StreamReply: ...


class StreamReply(Protocol):
    """Accumulates a streamed reply from the items the caller receives."""

    @property
    def finished(self) -> bool: ...
    def feed(self, item: Any) -> None: ...
    def draft(self) -> Draft | Sequence[Draft] | None: ...


@dataclass
class CallPlan:
    """One call under memory: its scope, the arguments sent, the turns it adds."""

    scope: Scope
    kwargs: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    block: ContextBlock | None = None
    trace: Any = None
    """The call's span context when tracing is on (its recording span's parent)."""


@dataclass
class Assembly:
    """A call's new turns and its context block before the recalled hits (None: the
    budget holds not even the block's own lines)."""

    turns: list[Turn]
    start: BlockStart | None


def _query(request: Request, history: list[Turn]) -> str:
    """The retrieval query: the latest user message sent, else the session's latest.

    A very long message is cut to its last ``MAX_QUERY_CHARS`` characters (where the
    question usually is), so one pasted document cannot make recall slow.
    """
    text = latest_user_text(request.drafts) or latest_user_text(
        [Draft(t.role, t.content) for t in history]
    )
    return text[-MAX_QUERY_CHARS:]


def _conversation(scope: Scope) -> tuple[str | None, str]:
    assert scope.session_id is not None  # ``begin`` only admits full scopes
    return (scope.process_id, scope.session_id)


def recall_depth(limit: int) -> int:
    """Hits a call recalls to show ``limit``: half as many again, as the block leaves out
    the user's own earlier questions, acknowledgements and what the request or the
    history already say (on the LoCoMo dev split, 2.0 points of recall@10 were hits
    the block did not show; recalling 15 for 10 gave 1.6 of them back, 20 for 10 1.7)."""
    return limit + limit // 2


def _nothing() -> None:
    """What a started embedding without ``keep_apart`` (one not on a local worker) does."""


def _in_session(hit: Hit, scope: Scope) -> bool:
    return isinstance(hit.item, Turn) and hit.item.session_id == scope.session_id


class MemoryEngine:
    """The memory side of every intercepted call of one ``Memori`` instance."""

    def __init__(self, mem: Memori, *, history_turns: int = 40, history_ttl: float = 5.0) -> None:
        self.mem = mem
        self.counters = Counters()
        self.continuations = ContinuationIndex(self._load_persona_turns, miss_ttl=history_ttl)
        self.sessions = SessionCache(
            self._load_turns, max_turns=history_turns, ttl=history_ttl,
            on_drop_entity=self.continuations.drop_entity,
        )
        self.pinned = PinnedCache(
            self._load_pinned,
            ttl=0.0 if isinstance(mem.store, SupportsListPinned) else history_ttl)
        self.bounded = BoundedReads(mem.read_timeout)
        """A call's reads wait for the store at most ``read_timeout`` seconds..."""
        self.reads_locally = reads_locally(mem.store)
        """...unless the store has no server to wait on: then they run in the caller's
        thread (asked once: the answer does not change)."""
        self._warned_unattributed = False

    # the call's scope
    def begin(
        self, args: Sequence[Any], kwargs: dict[str, Any], *, lazy_body: bool = False
    ) -> Scope | None:
        """The scope this call works in, or None to pass it through without memory.

        Passed through: every call while memory is disabled (``MEMORI_DISABLED``),
        calls inside ``mem.paused()``, calls with positional arguments (the openai
        methods take keywords only), ``with_streaming_response`` calls (their body is
        read lazily by the caller) unless the wrapper reads such a body (``lazy_body``),
        and, unless strict, calls made before any ``mem.attribution(...)``.
        """
        self.counters.add("calls")
        headers = kwargs.get("extra_headers")
        lazy = isinstance(headers, dict) and headers.get(RAW_RESPONSE_HEADER) == "stream"
        if args or (lazy and not lazy_body) or self.mem.disabled or self.mem.is_paused:
            self.counters.add("passthrough")
            return None
        current = self.mem.current
        if current.entity_id is None or current.session_id is None:
            if self.mem.strict:
                return current.scope()  # raises the ValueError that names the fix
            if not self._warned_unattributed:
                self._warned_unattributed = True
                log.warning("memori: LLM call made with no attribution; memory is skipped "
                            "(call mem.attribution(entity_id=...) first)")
            self.counters.add("passthrough")
            return None
        return current.scope()

    # planning: the sync path reads the store in the caller's thread; the async path
    # awaits the retriever's ``aretrieve`` when it has one, else a worker thread
    def plan(self, api: Api, scope: Scope, kwargs: dict[str, Any]) -> CallPlan:
        """Read history and memories, and build the request the model receives."""
        request = self._read(api, kwargs)
        if request is None:
            return CallPlan(scope, kwargs)
        if request.continues is not None:
            ref = request.continues
            found = self._bounded_read(lambda: self._guard_read(
                "finding the continued session", self.continuations.find, scope, ref))
            scope = scope.with_session(found) if found else scope
        with self.mem.observer.call(api.name, scope, kwargs,
                                    provider=api.provider) as span:
            # the message's embedding runs on another core while the store is read
            early = _query(request, [])
            started = self._start_query(early)
            # this entity's own turns of other conversations (this one's are session history),
            # unless the store is silent: the call will not read it
            if not self.bounded.failing:
                self.mem.pipeline.wait_for(scope.entity_id, _conversation(scope))
            read = self._bounded_read(lambda: self._reads(scope, request, early, started))
            plan = self._assemble(api, scope, request, *(read or ([], [], [], None)))
            span.planned(plan)
        return plan

    def _bounded_read(self, read: Callable[[], R]) -> R | None:
        """``read()`` in this thread for a store without a server to wait on, else on a
        reader within ``read_timeout``; None when the store did not answer in time."""
        if self.reads_locally:
            return read()
        try:
            return self.bounded.run(read)
        except ReadTimeout as e:
            self._unanswered(e)
            return None

    async def _awithin_bound(self, read: Awaitable[R]) -> R | None:
        """The bounded ``read``; None when the store did not answer in time."""
        try:
            return await read
        except ReadTimeout as e:
            self._unanswered(e)
            return None

    def _unanswered(self, error: ReadTimeout) -> None:
        """A read failure (strict mode raises): the call goes on without memory."""
        memory_failure(self.counters, "read_failures", "reading memory", error,
                       strict=self.mem.strict)

    def _reads(self, scope: Scope, request: Request, early: str,
               started: PendingVector | None,
               ) -> tuple[list[Turn], list[Hit], list[Memory], Assembly | None]:
        """The call's session history, recall and pinned memories, read in this thread
        through the store's shared reads (``started``: the embedding of ``early``), and
        the request's assembly as far as it goes without the hits."""
        with self.mem.foreground.busy(), shared_reads(self.mem.store):
            history = self._guard_read("reading session history", self.sessions.recent,
                                       scope) or []
            pinned = self._guard_read("reading pinned memories", self.pinned.pinned, scope)
            assembly = self._early_assembly(scope, request, history, pinned or [])
            query = _query(request, history)
            hits = self._guard_read("recall", self._recall, scope, query,
                                    started if query == early else None) if query else None
        return history, hits or [], pinned or [], assembly

    async def aplan(self, api: Api, scope: Scope, kwargs: dict[str, Any]) -> CallPlan:
        """:meth:`plan` for the event loop: no database or model I/O on the loop's thread."""
        request = self._read(api, kwargs)
        if request is None:
            return CallPlan(scope, kwargs)
        if request.continues is not None:
            scope = await self._acontinued(scope, request.continues)
        with self.mem.observer.call(api.name, scope, kwargs,
                                    provider=api.provider) as span:
            early = _query(request, [])
            if not self.bounded.failing:  # a silent store will not be read
                await self.mem.pipeline.await_for(scope.entity_id, _conversation(scope))
            retriever = self.mem.retriever
            if isinstance(retriever, SupportsAsyncRetrieve) and self._native_async():
                read = await self._awithin_bound(
                    self.bounded.abound(lambda: self._areads(retriever, scope, request)))
            else:  # every read in one thread, as plan() reads: one hop for the loop
                # a long message's model run begins here, on the model's worker (never
                # run on the loop: with the worker busy, the reads' thread embeds)
                begun = self._start_query(early, inline_if_busy=False) \
                    if count_tokens(early) >= LOOP_START_TOKENS else None

                def reads() -> tuple[list[Turn], list[Hit], list[Memory], Assembly | None]:
                    if begun is not None:  # this thread works beside the model, not the loop
                        getattr(begun, "keep_apart", _nothing)()
                    started = begun if begun is not None else self._start_query(early)
                    return self._reads(scope, request, early, started)

                if self.reads_locally:
                    read = await asyncio.to_thread(reads)
                else:
                    read = await self._awithin_bound(self.bounded.arun(reads))
            plan = self._assemble(api, scope, request, *(read or ([], [], [], None)))
            span.planned(plan)
        return plan

    async def _areads(self, retriever: SupportsAsyncRetrieve, scope: Scope, request: Request,
                      ) -> tuple[list[Turn], list[Hit], list[Memory], Assembly | None]:
        """:meth:`_reads` with a natively async store: history off the loop unless fresh,
        then the retriever's ``aretrieve`` on the loop while pinned memories are read."""
        history = self.sessions.fresh(scope)
        if history is None:
            history = await self.bounded.thread(
                self._guard_read, "reading session history", self.sessions.recent, scope)
        query = _query(request, history or [])
        pinned = self.pinned.fresh(scope)
        if pinned is None:  # read while recall runs
            pinned, hits = await asyncio.gather(
                self.bounded.thread(self._guard_read, "reading pinned memories",
                                    self.pinned.pinned, scope),
                self._arecall(retriever, scope, query))
        else:
            hits = await self._arecall(retriever, scope, query)
        return history or [], hits or [], pinned or [], None

    async def _arecall(self, retriever: SupportsAsyncRetrieve, scope: Scope, query: str,
                       ) -> list[Hit] | None:
        """The retriever's ``aretrieve`` (its searches run concurrently on the loop); None
        when there is no query or recall failed."""
        if not query:
            return None
        mem = self.mem
        try:
            with mem.foreground.busy(), mem.observer.recall(scope, query) as span:
                return span.found(await retriever.aretrieve(
                    mem.store, scope, query, limit=recall_depth(mem.recall_limit)))
        except Exception as e:
            memory_failure(self.counters, "read_failures", "recall", e, strict=mem.strict)
            return None

    async def _acontinued(self, scope: Scope, ref: Ref) -> Scope:
        """The scope in the session ``ref`` continues (the store read off the loop)."""
        found = self.continuations.cached(scope, ref)
        if found is UNKNOWN:
            found = await self._awithin_bound(self.bounded.arun(lambda: self._guard_read(
                "finding the continued session", self.continuations.find, scope, ref)))
        return scope.with_session(found) if isinstance(found, str) else scope

    def _read(self, api: Api, kwargs: dict[str, Any]) -> Request | None:
        try:
            return api.read(kwargs)
        except Exception as e:
            memory_failure(self.counters, "read_failures", "reading the request", e,
                           strict=self.mem.strict)
            return None

    def _guard_read(self, what: str, read: Callable[..., R], *args: Any) -> R | None:
        try:
            return read(*args)
        except Exception as e:
            memory_failure(self.counters, "read_failures", what, e, strict=self.mem.strict)
            return None

    def _start_query(self, query: str, *, inline_if_busy: bool = True
                     ) -> PendingVector | None:
        """The query's embedding begun beside this thread, when there is a query and the
        retriever can (``inline_if_busy=False``: not at all while the model's worker is
        busy, for the event loop's thread)."""
        mem = self.mem
        retriever = mem.retriever
        if not query or not conforms(retriever, SupportsStartQuery):
            return None
        try:
            return retriever.start_query(mem.store, query, inline_if_busy=inline_if_busy)
        except Exception as e:
            memory_failure(self.counters, "read_failures", "embedding the query", e,
                           strict=self.mem.strict)
            return None

    def _recall(self, scope: Scope, query: str, started: PendingVector | None = None
                ) -> list[Hit]:
        mem = self.mem
        retriever = mem.retriever
        with mem.observer.recall(scope, query) as span:
            if started is not None and isinstance(retriever, SupportsStartQuery):
                return span.found(retriever.retrieve(
                    mem.store, scope, query, limit=recall_depth(mem.recall_limit),
                    started=started))
            return span.found(retriever.retrieve(mem.store, scope, query,
                                                 limit=recall_depth(mem.recall_limit)))

    def _native_async(self) -> bool:
        """Whether the store has a native async driver (``aretrieve`` then runs on the
        loop; otherwise the call's reads run in one worker thread)."""
        return Capability.NATIVE_ASYNC in self.mem.store.capabilities

    def _assemble(
        self, api: Api, scope: Scope, request: Request, history: list[Turn], hits: list[Hit],
        pinned: list[Memory], assembly: Assembly | None = None,
    ) -> CallPlan:
        """The new turns of the call and the request with its context block (CPU only;
        ``assembly``: what :meth:`_prepare_assembly` worked out before the hits came)."""
        if assembly is None:
            assembly = self._prepare_assembly(scope, request, history, pinned)
        hits = live_hits(hits, time.time())  # expired memories are never shown
        if request.server_history:  # the API holds this conversation: none of it again
            hits = [h for h in hits if not _in_session(h, scope)]
        with self.mem.observer.context() as span:
            block = None if assembly.start is None else finish_block(
                assembly.start, hits, max_hits=self.mem.recall_limit)
            span.built(block)
        if block is None:
            return CallPlan(scope, request.kwargs, assembly.turns)
        self.counters.add("injected")
        return CallPlan(scope, api.inject(request, block.text), assembly.turns, block)

    def _early_assembly(self, scope: Scope, request: Request, history: list[Turn],
                        pinned: list[Memory]) -> Assembly | None:
        """:meth:`_prepare_assembly` before recall, while the query's model runs beside
        (the caller would wait for it idle), for a store read in this thread; None for
        one read within a deadline (the deadline is the store's, not this work's), or if
        it failed (:meth:`_assemble` then does it again, and fails as it would have)."""
        if not self.reads_locally:
            return None
        try:
            return self._prepare_assembly(scope, request, history, pinned)
        except Exception:
            return None

    def _prepare_assembly(self, scope: Scope, request: Request, history: list[Turn],
                          pinned: list[Memory]) -> Assembly:
        """The call's new turns, and its block before the recalled hits: the session
        history it shows (none of what the request sends again, nothing of it when the
        API holds the conversation) and the pinned memories."""
        turns = [self.turn(scope, d) for d in select_new(request.drafts, history)]
        if request.server_history:
            shown: list[Turn] = []
        else:
            sent = {d.key for d in request.drafts}
            shown = [t for t in history if (t.role, t.content) not in sent]
        start = start_block(shown, budget=self.mem.token_budget,
                            exclude=[d.content for d in request.drafts], pinned=pinned,
                            pinned_share=self.mem.pinned_share)
        return Assembly(turns, start)

    def _load_pinned(self, scope: Scope) -> list[Memory]:
        """The scope's current pinned memories."""
        return list_pinned(self.mem.store, scope)

    def _load_persona_turns(self, scope: Scope, limit: int) -> list[Turn]:
        """The latest turns of the scope's entity and persona, every session."""
        return self.mem.store.list_turns(scope, limit=limit)

    def _load_turns(self, scope: Scope, limit: int) -> list[Turn]:
        """The session's latest turns (vectors not needed: ``recent_turns`` if offered)."""
        return recent_turns(self.mem.store, scope, limit=limit)

    # recording
    def turn(self, scope: Scope, draft: Draft, **extra: Any) -> Turn:
        """A turn of the call's scope (session set: ``begin`` only admits full scopes).

        Text beyond ``max_content_chars`` is cut (``truncated_from`` in the metadata
        keeps the length); metadata JSON cannot hold is made JSON-exact: the model
        call never fails for what memory cannot store.
        """
        assert scope.session_id is not None
        content, cut = truncate_text(draft.content, max_chars=self.mem.max_content_chars)
        content = self.mem.redact(content)
        metadata = {**draft.metadata, **extra}
        if cut is not None:
            metadata["truncated_from"] = cut
        return Turn(
            entity_id=scope.entity_id, session_id=scope.session_id, role=draft.role,
            content=content, process_id=scope.process_id,
            metadata=coerce_metadata(metadata),
        )

    def commit(self, plan: CallPlan, turns: Sequence[Turn]) -> None:
        """Queue turns for durable writing (and so for augmentation); fails open."""
        if not turns or self.mem.is_paused:
            return
        try:  # built by :meth:`turn`: checked and redacted already, so straight to the pipeline
            with self.mem.observer.record(plan, turns):
                self.mem.pipeline.record(turns)
        except Exception as e:
            memory_failure(self.counters, "record_failures", "queueing turns", e,
                           strict=self.mem.strict)
            return
        self.sessions.add(plan.scope, turns)
        self.continuations.note(turns)
        self.mem._sweeper.poke()  # a background sweep of expired memories, when due
        self.counters.add("recorded_turns", len(turns))

    def commit_reply(
        self, plan: CallPlan, reply: Draft | Sequence[Draft] | None, **extra: Any
    ) -> None:
        """Queue the call's new turns (if not yet queued) and the reply (its tool items
        first, then the assistant's message)."""
        turns = list(plan.turns)
        plan.turns = []
        drafts = [reply] if isinstance(reply, Draft) else list(reply or ())
        turns.extend(self.turn(plan.scope, draft, **extra) for draft in drafts)
        if extra.get("partial"):
            self.counters.add("partial_replies")
        self.commit(plan, turns)

    def guarded(self, what: str, action: Callable[[], None]) -> None:
        """Run a recording step; an unexpected error is counted, not raised (unless strict)."""
        try:
            action()
        except Exception as e:
            memory_failure(self.counters, "record_failures", what, e, strict=self.mem.strict)

    def stats(self) -> LLMStats:
        # The recorder's counters are read directly: ``mem.metrics`` also asks the
        # store (augmentation lag) and so fails while the store is down.
        recorder = self.mem._recorder
        return self.counters.snapshot(
            write_failures=recorder.stats.write_failures, write_pending=recorder.pending()
        )
