"""The default retriever: text + dense + recency over memories and turns, fused by rank.

For a query it runs the store's own text search (on the query's content words
and their inflections) and vector search, over the scope's memories and over
the raw turns of the entity and persona (every session); fuses the rankings by
weighted reciprocal rank fusion; adds a small recency bonus; lets the best
turns lend score to the turns around them in their conversation; drops
duplicates; optionally reranks; and keeps the best hits within a token budget.
Defaults were tuned on the LoCoMo development split (see docs/retrieval.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memori.core import (
    Capability,
    Embedder,
    Hit,
    MemoryStore,
    PendingVector,
    Scope,
    SupportsAsyncEmbed,
    SupportsEmbedBeside,
    Turn,
    live_hits,
    recent_turns,
)
from memori.core.conforms import conforms
from memori.retrieval.budget import best_within_budget, select_within_budget
from memori.retrieval.candidates import Candidate, Key, best_first, ranked
from memori.retrieval.context import add_neighbours, seed_sessions, seed_turns
from memori.retrieval.dedup import without_duplicates
from memori.retrieval.focus import HEAD, TAIL, VECTOR_HEAD, VECTOR_TAIL, focus
from memori.retrieval.fusion import fuse, rrf_best
from memori.retrieval.overlap import embed_aside, overlaps
from memori.retrieval.plan import (
    MEMORY_TEXT,
    MEMORY_VECTOR,
    RECENCY,
    SIGNALS,
    TURN_TEXT,
    TURN_VECTOR,
    WHEN,
    Search,
    needs_vector,
    plan_searches,
)
from memori.retrieval.query import text_query
from memori.retrieval.recency import DAY, add_recency
from memori.retrieval.relevance import MIN_RELEVANCE, Relevance
from memori.retrieval.when import Window, add_when, asked_window

log = logging.getLogger(__name__)

Reranker = Callable[[str, list[Hit]], list[Hit]]
"""Takes the query and the fused hits (best first); returns them in a new order (may drop)."""


def default_weights() -> dict[str, float]:
    """Text outweighs dense (all-MiniLM-L6-v2 is the weaker signal on conversations);
    what was said at the time a query names goes first among what the searches found."""
    return {MEMORY_TEXT: 1.5, MEMORY_VECTOR: 1.0, TURN_TEXT: 1.5, TURN_VECTOR: 1.0,
            RECENCY: 0.2, WHEN: 2.5}


@dataclass
class HybridRetriever:
    """Ranks what a scope may see for a query, within a token budget.

    - ``weights``: per signal (``memory_text``, ``memory_vector``, ``turn_text``,
      ``turn_vector``, ``recency``); a missing or zero weight turns a signal off.
    - ``candidates``: how deep each search looks (at least the ``limit`` asked).
    - ``rrf_k``: the fusion constant; small values favour each ranking's top places.
    - ``query_processor``: text for the text searches (default: content words and
      their inflections); None sends the query unchanged.
    - ``focus_words``: ``(first, last)``: of a query longer than ``first + last``
      words, the text searches read those words, its first and its last (see
      ``memori.retrieval.focus``); None: the whole query. The relevance floor and the
      time a query names read the whole query.
    - ``vector_words``: the same for the query's vector (default: its first 10 and
      last 10 words, as the text searches); None: the words the text searches read.
    - ``recency_half_life``: seconds after which the recency bonus halves.
    - ``context_window`` / ``context_seeds`` / ``context_weight``: turns up to
      ``context_window`` places from each of the best ``context_seeds`` turns get
      ``context_weight / distance`` of its score; each seed's session is read up to
      its latest ``context_session_limit`` turns. ``context_window=0`` turns it off.
      The turn right after a seed that ends with a question mark (most often its
      answer) gets ``context_answer_weight`` times its share.
    - ``native_fusion``: on a store that fuses text and vector itself, use that.
    - Context turns are read with the store's ``recent_turns(scope, limit=)`` when it
      has one (the latest turns, oldest first, vectors left out), else ``list_turns``.
    - ``min_relevance``: the relevance floor. Besides its fused (rank-based) score
      each hit gets absolute signals: ``overlap`` (share of the query's content
      words it contains), ``cosine`` (dense, when a vector ranking saw it) and
      ``relevance`` (the larger of the overlap and the rescaled cosine, or what
      the context seed next to it has); hits below the floor are not returned, so
      a query about nothing the scope holds returns nothing. 0 turns it off.
    - ``overlap_weight`` / ``overlap_depth``: the best ``overlap_depth`` fused
      candidates (context turns included) gain ``overlap_weight`` times their
      ``overlap``, in units of the best fused score a hit can have, before the floor
      and the budget: of two hits ranked alike, the one holding more of the query's
      words goes first. 0 turns it off.
    - ``reranker``: called with the query and the best ``rerank_depth`` hits
      (those above the floor).
    - An embedder with ``gil_free = True`` embeds the query on a small pool while the
      text searches run (see ``memori.retrieval.overlap``); one with ``embed_beside``
      (the local model) on its own worker thread (see ``memori.embedders.beside``).
    """

    embedder: Embedder | None = None
    weights: dict[str, float] = field(default_factory=default_weights)
    candidates: int = 20
    rrf_k: int = 5
    include_turns: bool = True
    query_processor: Callable[[str], str] | None = text_query
    focus_words: tuple[int, int] | None = (HEAD, TAIL)
    vector_words: tuple[int, int] | None = (VECTOR_HEAD, VECTOR_TAIL)
    recency_half_life: float = 30 * DAY
    context_window: int = 2
    context_seeds: int = 10
    context_weight: float = 0.5
    context_session_limit: int = 64
    context_answer_weight: float = 1.5
    dedup: bool = True
    native_fusion: bool = False
    min_relevance: float = MIN_RELEVANCE
    overlap_weight: float = 0.15
    overlap_depth: int = 30
    reranker: Reranker | None = None
    rerank_depth: int = 50
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown signal(s) {sorted(unknown)}; known: {list(SIGNALS)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must not be negative")
        if self.candidates < 1 or self.rrf_k < 0 or self.context_window < 0:
            raise ValueError("candidates >= 1, rrf_k >= 0 and context_window >= 0")
        if self.context_answer_weight < 0:
            raise ValueError("context_answer_weight must not be negative")
        if self.overlap_weight < 0 or self.overlap_depth < 0:
            raise ValueError("overlap_weight and overlap_depth must not be negative")
        if not 0.0 <= self.min_relevance <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1], got {self.min_relevance!r}")
        if self.focus_words is not None:
            if len(self.focus_words) != 2:
                raise ValueError(f"focus_words is (first, last), got {self.focus_words!r}")
            focus("", *self.focus_words)  # raises for a bad pair
        if self.vector_words is not None:
            if len(self.vector_words) != 2:
                raise ValueError(f"vector_words is (first, last), got {self.vector_words!r}")
            focus("", *self.vector_words)

    # the pieces shared by the sync and async paths

    def text_for(self, query: str) -> str:
        """What the text searches receive for ``query``."""
        text = self.focused(query)
        return self.query_processor(text) if self.query_processor else text

    def focused(self, query: str) -> str:
        """What the text searches read of ``query`` (see ``focus_words``)."""
        return query if self.focus_words is None else focus(query, *self.focus_words)

    def embedded(self, query: str) -> str:
        """What the query's vector is the embedding of (see ``vector_words``)."""
        if self.vector_words is None:
            return self.focused(query)
        return focus(query, *self.vector_words)

    def wants_vector(self, store: MemoryStore) -> bool:
        """Whether a query on ``store`` runs any vector ranking."""
        return self.embedder is not None and needs_vector(
            self.weights, store.capabilities, self.include_turns
        )

    def query_vector(self, store: MemoryStore, query: str) -> list[float] | None:
        """The query's embedding, or None when no vector search would run."""
        if self.embedder is None or not query.strip() or not self.wants_vector(store):
            return None
        return self.embedder.embed([self.embedded(query)])[0]

    def plan(
        self, store: MemoryStore, query: str, vector: Sequence[float] | None,
    ) -> tuple[list[Search], dict[str, float]]:
        """The searches a query runs on ``store`` and the weight of each ranking."""
        return self._plan(store, self.text_for(query), vector)

    def _plan(
        self, store: MemoryStore, text: str, vector: Sequence[float] | None,
    ) -> tuple[list[Search], dict[str, float]]:
        return plan_searches(
            self.weights, store.capabilities, text=text, vector=vector,
            include_turns=self.include_turns, native_fusion=self.native_fusion,
        )

    def depth(self, limit: int) -> int:
        """How many hits each search asks for."""
        return max(self.candidates, limit, 1)

    def window(self, query: str) -> Window | None:
        """The time ``query`` asks about (see ``memori.retrieval.when``), when the ``when``
        signal is on."""
        return asked_window(query, self.clock()) if self.weights.get(WHEN, 0.0) > 0 else None

    def _fuse(
        self, rankings: Mapping[str, Sequence[Hit]], weights: Mapping[str, float],
        window: Window | None = None,
    ) -> tuple[dict[Key, Candidate], float]:
        candidates = fuse(rankings, weights, self.rrf_k)
        scale = rrf_best(weights, list(rankings), self.rrf_k)
        add_recency(
            candidates.values(), now=self.clock(), half_life=self.recency_half_life,
            scale=self.weights.get(RECENCY, 0.0) / (self.rrf_k + 1),
        )
        add_when(candidates.values(), window, self.weights.get(WHEN, 0.0) / (self.rrf_k + 1))
        return candidates, scale

    @property
    def _uses_context(self) -> bool:
        """Whether turns next to the best turns share their score (conversation context)."""
        return self.context_window > 0 and self.context_weight > 0 and self.include_turns

    def _seeds(self, candidates: Mapping[Key, Candidate]) -> list[Candidate]:
        if not self._uses_context:
            return []
        return seed_turns(candidates.values(), self.context_seeds)

    def _finish(
        self, query: str, candidates: dict[Key, Candidate], scale: float,
        limit: int, token_budget: int | None, judge: Relevance, floor: float,
    ) -> list[Hit]:
        self._weigh_overlap(candidates.values(), scale, judge)
        pool = without_duplicates(candidates.values()) if self.dedup else candidates.values()
        ordered = self._relevant(best_first(pool), judge, floor)
        if self.reranker is None:
            return best_within_budget(ordered, scale, limit, token_budget)
        hits = ranked(ordered, scale)
        depth = max(self.rerank_depth, limit)
        hits = list(self.reranker(query, hits[:depth])) + hits[depth:]
        return select_within_budget(hits, limit, token_budget)

    def _weigh_overlap(
        self, candidates: Iterable[Candidate], scale: float, judge: Relevance,
    ) -> None:
        """Add ``overlap_weight`` x overlap to the best ``overlap_depth`` candidates."""
        if self.overlap_weight <= 0 or self.overlap_depth <= 0:
            return
        unit = self.overlap_weight * (scale if scale > 0 else 1.0)
        for cand in best_first(candidates)[: self.overlap_depth]:
            cand.score += unit * judge.overlap_of(cand)

    @staticmethod
    def _relevant(
        ordered: Iterable[Candidate], judge: Relevance, floor: float,
    ) -> Iterator[Candidate]:
        """The candidates at or above the floor, in order, each with its absolute signals
        (judged lazily: only as far as the caller reads)."""
        for cand in ordered:
            if judge(cand) >= floor:
                yield cand

    def _floor(self, override: float | None) -> float:
        """This call's relevance floor: ``override`` if given, else ``min_relevance``."""
        if override is None:
            return self.min_relevance
        if not 0.0 <= override <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1], got {override!r}")
        return override

    def start_query(self, store: MemoryStore, query: str, *, inline_if_busy: bool = True
                    ) -> PendingVector | None:
        """Begin embedding ``query`` beside the caller's thread, for a :meth:`retrieve`
        of the same query (``started=``): an embedder that waits on the network runs on
        a small pool, a local model on its worker thread (``embed_beside``; while that
        is busy, here, or with ``inline_if_busy=False`` not at all); None when nothing
        was started (the retriever then embeds first, as before)."""
        embedder = self.embedder
        if embedder is None or self.native_fusion or not query.strip() \
                or not self.wants_vector(store):
            return None
        if overlaps(embedder):
            return embed_aside(embedder, self.embedded(query))
        if conforms(embedder, SupportsEmbedBeside):
            return embedder.embed_beside(self.embedded(query), inline_if_busy=inline_if_busy)
        return None

    # sync

    def retrieve(
        self, store: MemoryStore, scope: Scope, query: str, *,
        limit: int = 10, token_budget: int | None = None,
        include_history: bool = False, vector: Sequence[float] | None = None,
        min_relevance: float | None = None, started: PendingVector | None = None,
    ) -> list[Hit]:
        """The best hits for ``query`` inside ``scope`` (``vector``: a precomputed embedding;
        ``started``: its embedding begun by :meth:`start_query`; ``min_relevance``: this
        call's floor instead of the retriever's)."""
        if limit <= 0:
            return []
        floor = self._floor(min_relevance)
        n = self.depth(limit)
        pending: PendingVector | None = None
        if vector is None:
            pending = started if started is not None else self.start_query(store, query)
        if vector is None and pending is None:
            vector = self.query_vector(store, query)
        text = self.text_for(query)
        searches, weights = self._plan(store, text, vector)
        rankings = {s.name: self._run(store, scope, s, n, include_history) for s in searches}
        window = self.window(query)
        judge = Relevance(query, window)
        sessions: dict[str, list[Turn]] = {}
        if pending is not None:  # the text searches ran while the query is embedded:
            self._prepare(store, scope, rankings, judge, sessions)  # and this, too
            searches, weights = self._plan(store, text, pending.result())
            rankings.update({s.name: self._run(store, scope, s, n, include_history)
                             for s in searches if s.name not in rankings})
        candidates, scale = self._fuse(rankings, weights, window)
        seeds = self._seeds(candidates)
        if seeds:
            for sid in seed_sessions(seeds):
                if sid not in sessions:
                    sessions[sid] = self._session(store, scope, sid)
            add_neighbours(candidates, seeds, sessions, window=self.context_window,
                           weight=self.context_weight, answer_weight=self.context_answer_weight,
                           relevance=judge if floor > 0 else None)
        return self._finish(query, candidates, scale, limit, token_budget, judge, floor)

    def _session(self, store: MemoryStore, scope: Scope, session_id: str) -> list[Turn]:
        """A seed's session as conversation context reads it (its latest turns)."""
        return recent_turns(store, scope.with_session(session_id),
                            limit=self.context_session_limit)

    def _prepare(
        self, store: MemoryStore, scope: Scope, rankings: Mapping[str, Sequence[Hit]],
        judge: Relevance, sessions: dict[str, list[Turn]],
    ) -> None:
        """What the rest of the retrieval will need of the text searches' hits, worked
        out while the query's vector is computed on another core (the caller would
        otherwise wait for it idle): their overlap with the query, and the sessions of
        the best turns, which are most often among the context seeds."""
        judge.prepare(h.item for hits in rankings.values() for h in hits)
        if not self._uses_context:
            return
        best = [h.item for h in rankings.get(TURN_TEXT, ())[: self.context_seeds]]
        for sid in dict.fromkeys(t.session_id for t in best if isinstance(t, Turn)):
            sessions[sid] = self._session(store, scope, sid)

    @staticmethod
    def _run(store: MemoryStore, scope: Scope, s: Search, n: int, history: bool) -> list[Hit]:
        if s.kind == "memory":  # expired memories are never recalled, swept or not
            return live_hits(store.search_memories(
                scope, text=s.text, vector=s.vector, limit=n, include_superseded=history
            ), time.time())
        return store.search_turns(scope.with_session(None), text=s.text, vector=s.vector, limit=n)

    # async

    async def aretrieve(
        self, store: Any, scope: Scope, query: str, *,
        limit: int = 10, token_budget: int | None = None,
        include_history: bool = False, vector: Sequence[float] | None = None,
        min_relevance: float | None = None,
    ) -> list[Hit]:
        """:meth:`retrieve` on the store's ``a*`` methods, its searches run concurrently.

        A store without a native async driver (no ``Capability.NATIVE_ASYNC``: its
        ``a*`` methods, if any, would each hop to a worker thread) is searched by
        :meth:`retrieve` in one worker thread;
        the query is embedded by the embedder's ``aembed`` if it has one, else in a
        worker thread.
        """
        if limit <= 0:
            return []
        if Capability.NATIVE_ASYNC not in store.capabilities:
            return await asyncio.to_thread(
                self.retrieve, store, scope, query, limit=limit, token_budget=token_budget,
                include_history=include_history, vector=vector, min_relevance=min_relevance,
            )
        floor = self._floor(min_relevance)
        if vector is None:
            vector = await self._aquery_vector(store, query)
        searches, weights = self.plan(store, query, vector)
        n = self.depth(limit)
        results = await asyncio.gather(
            *(self._arun(store, scope, s, n, include_history) for s in searches)
        )
        rankings = dict(zip((s.name for s in searches), results, strict=True))
        window = self.window(query)
        candidates, scale = self._fuse(rankings, weights, window)
        judge = Relevance(query, window)
        seeds = self._seeds(candidates)
        if seeds:
            sids = seed_sessions(seeds)
            lists: list[list[Turn]] = await asyncio.gather(*(
                store.alist_turns(scope.with_session(sid), limit=self.context_session_limit)
                for sid in sids
            ))
            add_neighbours(candidates, seeds, dict(zip(sids, lists, strict=True)),
                           window=self.context_window, weight=self.context_weight,
                           answer_weight=self.context_answer_weight,
                           relevance=judge if floor > 0 else None)
        return self._finish(query, candidates, scale, limit, token_budget, judge, floor)

    async def _aquery_vector(self, store: MemoryStore, query: str) -> list[float] | None:
        if self.embedder is None or not query.strip() or not self.wants_vector(store):
            return None
        text = self.embedded(query)
        if isinstance(self.embedder, SupportsAsyncEmbed):
            vectors = await self.embedder.aembed([text])
            return vectors[0]
        return await asyncio.to_thread(lambda: self.embedder.embed([text])[0])  # type: ignore[union-attr]

    @staticmethod
    async def _arun(store: Any, scope: Scope, s: Search, n: int, history: bool) -> list[Hit]:
        if s.kind == "memory":
            hits: list[Hit] = await store.asearch_memories(
                scope, text=s.text, vector=s.vector, limit=n, include_superseded=history
            )
            return live_hits(hits, time.time())
        turns: list[Hit] = await store.asearch_turns(
            scope.with_session(None), text=s.text, vector=s.vector, limit=n
        )
        return turns
