"""The default retriever on a real SQLite store: query processing, fusion, conversation
context, recency, dedup, the rerank hook, token budgets, the async path and isolation."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memori import Memori
from memori.config import open_backend
from memori.core import Capability, Hit, Memory, MemoryStore, Scope, Turn
from memori.core.cjk import index_tokens
from memori.embedders import HashEmbedder
from memori.retrieval import (
    ABSOLUTE_SIGNALS,
    HybridRetriever,
    count_tokens,
    reciprocal_rank_fusion,
    select_within_budget,
    text_query,
)
from memori.retrieval.plan import plan_searches
from memori.retrieval.query import content_words, inflections, text_words
from memori.retrieval.recency import DAY, decay

EMBEDDER = HashEmbedder(dim=64)
NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    s = open_backend(f"sqlite:///{tmp_path / 'r.db'}", vector_dim=EMBEDDER.dim)
    s.setup()
    yield s
    s.close()


def embedded(text: str) -> tuple[float, ...]:
    return tuple(EMBEDDER.embed([text])[0])


def add_session(store: MemoryStore, entity: str, session: str, texts: Sequence[str],
                *, process: str | None = None, start: float = NOW - DAY) -> list[Turn]:
    turns = [
        Turn(entity_id=entity, session_id=session, process_id=process,
             role="user" if i % 2 == 0 else "assistant", content=text,
             created_at=start + i, embedding=embedded(text))
        for i, text in enumerate(texts)
    ]
    store.append_turns(turns)
    return turns


def memory(entity: str, text: str, *, at: float = NOW - DAY, **kw: Any) -> Memory:
    return Memory(entity_id=entity, content=text, created_at=at, embedding=embedded(text), **kw)


def retriever(**kw: Any) -> HybridRetriever:
    kw.setdefault("embedder", EMBEDDER)
    kw.setdefault("clock", lambda: NOW)
    return HybridRetriever(**kw)


class CountingEmbedder:
    """The real hash embedder, counting how many texts it was asked to embed."""

    name = EMBEDDER.name
    dim = EMBEDDER.dim

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += len(texts)
        return EMBEDDER.embed(texts)


# query processing


def test_content_words_drop_function_words_and_keep_names_and_numbers() -> None:
    words = content_words("What did Caroline say about the 2022 marathon in Paris?")
    assert words == ["caroline", "say", "2022", "marathon", "paris"]


def test_a_query_of_function_words_only_is_kept_whole() -> None:
    assert content_words("The Who") == ["the", "who"]
    assert text_query("The Who") == "the who"


def test_inflections_link_regular_forms_both_ways() -> None:
    assert {"paint", "painted", "paints"} <= set(inflections("painting"))
    assert {"painting", "painted"} <= set(inflections("paint"))
    assert "study" in inflections("studies")
    assert "run" in inflections("running")
    assert "hike" in inflections("hiking")
    assert inflections("2023") == ("2023",)
    assert inflections("run") == ("run", "runs")  # short verbs: the third person only
    assert inflections("fly") == ("fly", "flies")
    assert inflections("go") == ("go",)
    from memori.retrieval import query

    painted = inflections("painted")
    assert inflections("painted") is painted  # remembered: each call inflects its words twice
    long_word = "supercalifragilisticexpialidociouspainting"  # 42 letters: not kept
    before = query._remembered.cache_info().currsize
    assert inflections(long_word)[:2] == (long_word, long_word[:-3])
    assert query._remembered.cache_info().currsize == before


def test_a_short_verb_in_the_question_finds_its_third_person_above_the_floor(
    tmp_path: Path,
) -> None:
    """"When do I run?" about "The user runs every morning": the words meet, so the
    memory clears the relevance floor the LLM path applies (it did not when 3-letter
    words had no inflections: the cosine alone stays below the floor)."""
    with Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="u")
        mem.remember("The user runs every morning by the river.")
        retriever = HybridRetriever(embedder=mem.embedder)
        for question in ("When do I run?", "Where do I run?"):
            hits = retriever.retrieve(mem.store, mem.scope(), question, limit=10)
            assert [h.item.content for h in hits] == [
                "The user runs every morning by the river."], question
            assert hits[0].signals["overlap"] == 1.0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_text_words_takes_a_shortcut_for_ascii_with_the_same_words(text: str) -> None:
    general = index_tokens(m.group(0).casefold() for m in re.finditer(r"[^\W_]+", text))
    assert text_words(text) == general
    assert text_words(text + " Ünïcode ß") == [*general, "ünïcode", "ss"]


def test_text_query_keeps_every_content_word_before_any_inflection() -> None:
    words = [f"paint{a}{b}ing" for a in "bcd" for b in "bcdfghjklm"]
    terms = text_query(" ".join(words)).split()
    assert terms[:30] == words
    assert len(terms) == 48


# fusion


def test_rrf_puts_the_item_first_in_both_rankings_on_top_with_score_one() -> None:
    a, b, c = (memory("e", t) for t in ("alpha", "beta", "gamma"))
    fused = reciprocal_rank_fusion(
        {"x": [Hit(a, 0.9), Hit(b, 0.5)], "y": [Hit(a, 0.8), Hit(c, 0.7)]}
    )
    assert fused[0].id == a.id
    assert {h.id for h in fused[1:]} == {b.id, c.id}
    assert fused[0].score == pytest.approx(1.0)
    assert fused[0].signals == {"x": 0.9, "y": 0.8}
    assert all(0.0 <= h.score <= 1.0 for h in fused)


def test_rrf_ignores_rankings_with_zero_weight() -> None:
    a, b = memory("e", "alpha"), memory("e", "beta")
    fused = reciprocal_rank_fusion({"x": [Hit(a, 1.0)], "y": [Hit(b, 1.0)]},
                                   weights={"x": 1.0, "y": 0.0})
    assert [h.id for h in fused] == [a.id]


def test_native_fusion_replaces_text_and_vector_calls_only_where_the_store_fuses() -> None:
    weights = {"memory_text": 1.5, "memory_vector": 1.0, "turn_text": 1.5, "turn_vector": 1.0}
    fusing = frozenset({Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH,
                        Capability.HYBRID_FUSION})
    searches, w = plan_searches(weights, fusing, text="tokyo", vector=[0.1],
                                include_turns=True, native_fusion=True)
    assert [s.name for s in searches] == ["memory_hybrid", "turn_hybrid"]
    assert w == {"memory_hybrid": 2.5, "turn_hybrid": 2.5}
    searches, _ = plan_searches(weights, fusing - {Capability.HYBRID_FUSION}, text="tokyo",
                                vector=[0.1], include_turns=True, native_fusion=True)
    assert [s.name for s in searches] == ["memory_text", "memory_vector", "turn_text",
                                          "turn_vector"]


# the retriever on a real store


def test_inflected_words_match_although_the_text_index_does_not_stem(
    store: MemoryStore,
) -> None:
    add_session(store, "e", "s1", ["I painted a sunrise over the lake last year",
                                    "The weather was grey all week"])
    text_only = {"turn_text": 1.0}
    hits = retriever(weights=text_only, context_window=0).retrieve(
        store, Scope("e"), "When did she paint?", limit=5)
    assert [h.content for h in hits] == ["I painted a sunrise over the lake last year"]
    bare = retriever(weights=text_only, context_window=0, query_processor=None)
    assert bare.retrieve(store, Scope("e"), "When did she paint?", limit=5) == []


def test_function_words_do_not_outrank_the_word_that_matters(store: MemoryStore) -> None:
    add_session(store, "e", "s1", [
        "what did you do and what did they do when it was the day of the thing",
        "my marathon time was 3 hours 50",
        "what is it that you did at the time when they were there",
    ])
    hits = retriever(weights={"turn_text": 1.0}, context_window=0).retrieve(
        store, Scope("e"), "What did I do at the marathon?", limit=3)
    assert hits[0].content == "my marathon time was 3 hours 50"


def test_the_reply_next_to_a_matching_question_is_recalled_through_context(
    store: MemoryStore,
) -> None:
    add_session(store, "e", "s1", [
        "Hi, how was your week?",
        "Busy but fine, thanks.",
        "Did you ever make it to Kyoto?",
        "Yes! Last April, with my sister. We loved the temples.",
        "Anything else new?",
    ])
    add_session(store, "e", "s2", ["We talked about gardening today.", "Tomatoes mostly."])
    query = "Who went to Kyoto?"
    with_context = retriever(weights={"turn_text": 1.0}).retrieve(
        store, Scope("e"), query, limit=3)
    contents = [h.content for h in with_context]
    assert contents[0] == "Did you ever make it to Kyoto?"
    assert "Yes! Last April, with my sister. We loved the temples." in contents
    reply = next(h for h in with_context if h.content.startswith("Yes!"))
    assert reply.signals["context"] == 1.0 and "turn_text" not in reply.signals
    without = retriever(weights={"turn_text": 1.0}, context_window=0).retrieve(
        store, Scope("e"), query, limit=3)
    assert [h.content for h in without] == ["Did you ever make it to Kyoto?"]


def test_the_turn_after_a_question_gets_more_of_its_score_than_the_turn_before(
    store: MemoryStore,
) -> None:
    add_session(store, "e", "s1", [
        "I was looking at old photos today.",
        "Did you ever make it to Kyoto?",
        "Yes! Last April, with my sister.",
    ])
    add_session(store, "e", "s2", [
        "We should plan something for June.",
        "The temples in Kyoto were beautiful.",
        "Nice, what else did you like there.",
    ])

    def context_scores(answer_weight: float) -> dict[str, float]:
        hits = retriever(weights={"turn_text": 1.0}, context_answer_weight=answer_weight,
                         min_relevance=0.0).retrieve(store, Scope("e"), "Kyoto", limit=10)
        return {h.content: h.score for h in hits if "turn_text" not in h.signals}

    plain, leaning = context_scores(1.0), context_scores(1.5)
    before, answer = "I was looking at old photos today.", "Yes! Last April, with my sister."
    # the question lends its neighbours alike, or the answer 1.5 times as much
    assert plain[answer] == pytest.approx(plain[before])
    assert leaning[answer] > leaning[before] == pytest.approx(plain[before])
    # a statement lends the turn after it no more than the turn before
    after_statement, before_statement = (
        "Nice, what else did you like there.", "We should plan something for June.")
    assert leaning[after_statement] == pytest.approx(plain[after_statement])
    assert leaning[before_statement] == pytest.approx(plain[before_statement])
    assert leaning == context_scores(HybridRetriever().context_answer_weight)
    with pytest.raises(ValueError, match="context_answer_weight"):
        HybridRetriever(context_answer_weight=-1.0)


def test_context_never_crosses_the_entity_or_the_persona(store: MemoryStore) -> None:
    mine = add_session(store, "alice", "s1", ["Did you go to Kyoto?", "alice reply"],
                       process="coach")
    add_session(store, "bob", "s1", ["Did you go to Kyoto?", "bob secret reply"],
                process="coach")
    add_session(store, "alice", "s1", ["Did you go to Kyoto?", "planner secret reply"],
                process="planner")
    for r in (retriever(), retriever(weights={"turn_text": 1.0})):
        hits = r.retrieve(store, Scope("alice", "coach"), "Kyoto trip", limit=20)
        assert {h.id for h in hits} == {t.id for t in mine}
        assert all(h.item.entity_id == "alice" and h.item.process_id == "coach" for h in hits)


def test_memories_and_turns_are_fused_with_scores_in_range(store: MemoryStore) -> None:
    store.put_memories([memory("e", "User runs a sub-25 5K goal by June"),
                        memory("e", "User is vegetarian")])
    add_session(store, "e", "s1", ["I want to run a 5K under 25 minutes", "Great goal!"])
    hits = retriever().retrieve(store, Scope("e"), "What is my running goal for the 5K?",
                                limit=10)
    assert {h.kind for h in hits} == {"memory", "turn"}
    assert hits[0].content in ("User runs a sub-25 5K goal by June",
                               "I want to run a 5K under 25 minutes")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_a_turn_repeating_a_memory_word_for_word_is_returned_once(store: MemoryStore) -> None:
    store.put_memories([memory("e", "I am allergic to peanuts")])
    add_session(store, "e", "s1", ["I am  allergic to PEANUTS"])
    r = retriever()
    hits = r.retrieve(store, Scope("e"), "peanuts allergy", limit=10)
    assert [h.kind for h in hits] == ["memory"]
    r.dedup = False
    assert sorted(h.kind for h in r.retrieve(store, Scope("e"), "peanuts allergy",
                                             limit=10)) == ["memory", "turn"]


def test_recency_breaks_ties_toward_what_was_seen_lately(store: MemoryStore) -> None:
    old = memory("e", "favourite colour is blue", at=NOW - 200 * DAY)
    new = memory("e", "favourite colour is green", at=NOW - 200 * DAY,
                 last_seen_at=NOW - DAY)
    store.put_memories([old, new])
    hits = retriever(weights={"memory_text": 1.0, "recency": 0.5}).retrieve(
        store, Scope("e"), "favourite colour", limit=2)
    assert [h.id for h in hits] == [new.id, old.id]
    assert hits[0].signals["recency"] > hits[1].signals["recency"]


def test_recency_decay_halves_every_half_life() -> None:
    assert decay(0.0, DAY) == 1.0
    assert decay(DAY, DAY) == pytest.approx(0.5)
    assert decay(3 * DAY, DAY) == pytest.approx(0.125)
    assert decay(-5.0, DAY) == 1.0


def test_signals_with_zero_weight_run_no_search_and_embed_nothing(
    store: MemoryStore,
) -> None:
    add_session(store, "e", "s1", ["the lighthouse at dawn"])
    counting = CountingEmbedder()
    text_only = HybridRetriever(embedder=counting, weights={"turn_text": 1.0})
    assert text_only.retrieve(store, Scope("e"), "lighthouse", limit=3)
    assert counting.calls == 0
    dense = HybridRetriever(embedder=counting, weights={"turn_vector": 1.0},
                            context_window=0)
    hits = dense.retrieve(store, Scope("e"), "lighthouse", limit=3)
    assert counting.calls == 1
    assert set(hits[0].signals) - set(ABSOLUTE_SIGNALS) == {"turn_vector"}


def test_the_hit_holding_more_of_the_query_words_gains_on_one_holding_fewer(
    store: MemoryStore,
) -> None:
    fewer = memory("e", "cello cello cello practice", at=NOW - 200 * DAY,
                   last_seen_at=NOW - DAY)  # recency puts it first...
    more = memory("e", "a seat in the community orchestra, second cello",
                  at=NOW - 200 * DAY)
    store.put_memories([fewer, more])
    weights = {"memory_text": 1.0, "recency": 2.0}

    def order(overlap_weight: float, overlap_depth: int = 30) -> list[str]:
        hits = retriever(weights=weights, overlap_weight=overlap_weight,
                         overlap_depth=overlap_depth).retrieve(
            store, Scope("e"), "cello orchestra", limit=2)
        assert {h.id: h.signals["overlap"] for h in hits} == {fewer.id: 0.5, more.id: 1.0}
        return [h.id for h in hits]

    assert order(0.0) == [fewer.id, more.id]
    assert order(5.0) == [more.id, fewer.id]  # ...until its share of the words counts
    assert order(5.0, overlap_depth=1) == [fewer.id, more.id]  # only the best one gains


def test_negative_overlap_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap_weight and overlap_depth"):
        HybridRetriever(overlap_weight=-0.1)
    with pytest.raises(ValueError, match="overlap_weight and overlap_depth"):
        HybridRetriever(overlap_depth=-1)


def test_unknown_or_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        HybridRetriever(weights={"turn_txt": 1.0})
    with pytest.raises(ValueError, match="negative"):
        HybridRetriever(weights={"turn_text": -1.0})


def test_the_reranker_sees_the_query_and_decides_the_order(store: MemoryStore) -> None:
    add_session(store, "e", "s1", ["apples are red", "apples and pears", "pears only"])
    seen: list[tuple[str, int]] = []

    def reverse(query: str, hits: list[Hit]) -> list[Hit]:
        seen.append((query, len(hits)))
        return [h for h in reversed(hits) if "only" not in h.content]

    plain = retriever(context_window=0).retrieve(store, Scope("e"), "apples pears", limit=3)
    reranked = retriever(context_window=0, reranker=reverse).retrieve(
        store, Scope("e"), "apples pears", limit=3)
    assert seen == [("apples pears", len(plain))]
    assert [h.id for h in reranked] == [h.id for h in reversed(plain) if "only" not in h.content]


def test_hits_stay_within_the_token_budget(store: MemoryStore) -> None:
    long = "kayak " + "word " * 300
    add_session(store, "e", "s1", [long, "kayak trip on Sunday", "the kayak is blue"])
    hits = retriever().retrieve(store, Scope("e"), "kayak", limit=10, token_budget=40)
    assert hits and long not in [h.content for h in hits]
    assert sum(count_tokens(h.content) for h in hits) <= 40
    assert retriever().retrieve(store, Scope("e"), "kayak", limit=0) == []


def test_select_within_budget_skips_what_does_not_fit_and_keeps_order() -> None:
    hits = [Hit(memory("e", t), 1.0 - i / 10)
            for i, t in enumerate(["one two three", "x " * 100, "four five"])]
    chosen = select_within_budget(hits, limit=5, token_budget=10)
    assert [h.content for h in chosen] == ["one two three", "four five"]
    assert len(select_within_budget(hits, limit=1, token_budget=None)) == 1


def test_a_query_with_no_words_returns_no_text_hits(store: MemoryStore) -> None:
    add_session(store, "e", "s1", ["something"])
    assert retriever(weights={"turn_text": 1.0}).retrieve(store, Scope("e"), "?!", limit=5) == []


async def test_aretrieve_returns_what_retrieve_returns(store: MemoryStore) -> None:
    store.put_memories([memory("e", "User's dog is called Biscuit")])
    add_session(store, "e", "s1", ["My dog Biscuit chewed my shoes", "Oh no!", "Bad dog"])
    add_session(store, "e", "s2", ["Walked Biscuit in the park", "Nice"])
    r = retriever()
    sync = r.retrieve(store, Scope("e"), "What is my dog's name?", limit=10)
    result = await r.aretrieve(store, Scope("e"), "What is my dog's name?", limit=10)
    assert [(h.kind, h.id) for h in result] == [(h.kind, h.id) for h in sync]
    assert [h.score for h in result] == pytest.approx([h.score for h in sync])


class SyncOnly:
    """The real store behind its sync methods only (as a sync-only plugin would be),
    noting the thread each search runs on."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner
        self.threads: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("a") and hasattr(self._inner, name[1:]):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def search_turns(self, *args: Any, **kwargs: Any) -> list[Hit]:
        self.threads.add(threading.get_ident())
        return self._inner.search_turns(*args, **kwargs)


async def test_aretrieve_on_a_sync_only_store_runs_it_off_the_loop(store: MemoryStore) -> None:
    add_session(store, "e", "s1", ["the red kite flew high", "wow"])
    r = retriever()
    wrapped = SyncOnly(store)
    assert not hasattr(wrapped, "asearch_turns")
    result = await r.aretrieve(wrapped, Scope("e"), "red kite", limit=5)
    assert wrapped.threads and threading.get_ident() not in wrapped.threads
    assert [h.id for h in result] == [
        h.id for h in r.retrieve(store, Scope("e"), "red kite", limit=5)]


@pytest.mark.parametrize(("text", "at_least"), [
    ("我对花生过敏。", 7),                  # six Han characters and a full stop
    ("私はピーナッツアレルギーです。", 15),    # kana and Han, one each
    ("저는 땅콩 알레르기가 있어요.", 12),      # Hangul syllables
])
def test_cjk_text_is_counted_about_a_token_a_character(text: str, at_least: int) -> None:
    """A block of Chinese, Japanese or Korean memories must not overrun the budget: each
    character costs a token, where one word of Latin letters costs one per four."""
    assert count_tokens(text) >= at_least
    assert count_tokens("I am allergic to peanuts.") == 8  # English unchanged


def test_ascii_text_is_counted_as_every_text_is() -> None:
    """The ASCII shortcut of ``count_tokens`` gives the general rule's count: a token per
    started four characters of each word, one per punctuation mark."""
    import random
    import re

    def by_the_rule(text: str) -> int:
        return sum(1 if not (p[0].isalnum() or p[0] == "_") else (len(p) + 3) // 4
                   for p in re.findall(r"\w+|[^\w\s]", text))

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)]
    texts = ["", "   ", "a", "abcd", "abcde", "snake_case_name", "x==y!?", "\x00\x01 \t\n"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
              for _ in range(2000)]
    for text in texts:
        assert count_tokens(text) == by_the_rule(text), repr(text)
    assert count_tokens("我对花生过敏, ok") == 6 + 1 + 1  # the general path, unchanged
