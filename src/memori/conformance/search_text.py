"""Optional (TEXT_SEARCH): a text query matches any of its words, never as syntax.

Chinese, Japanese and Korean runs are words by character pairs (``memori.core.cjk``):
a query's pairs (or its lone character) must be found inside unspaced text.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memori.conformance.base import Ids, requires
from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.data import contains_any_word, fresh, memory, turn
from memori.conformance.scoring import query_words
from memori.core import Capability, Hit, Memory, MemoryStore, Scope

DOCS = ("Zebra quartz", "ZEBRA", "violin", "mango tundra", "quartz violin copper", "nectar")

WORDLESS_QUERIES = ("", "   ", "%%%", "*", "'\"", "--", "()", "\t\n", "-+^~")

HOSTILE_QUERIES = (
    'zebra"', '"zebra', "zebra AND", "OR zebra", "NOT zebra", "zebra*", "zebra:*",
    "NEAR(zebra quartz)", "zebra -quartz", "+zebra", "zebra^2", "col:zebra", "content:zebra",
    "zebra'); DROP TABLE memori_memories; --", '{"$ne": "zebra"}', "$where zebra",
    "zebra & | ! <-> quartz", "(((zebra", "zebra\\", "zebra %", "zebra _", ".* zebra",
    "[zebra]", "{zebra}", "zebra;", "@@ zebra", "zebra OR 1=1", "`zebra`", "zebra\u0000quartz",
)


def _expected(docs: list[Memory], query: str) -> set[str]:
    return {m.id for m in docs if contains_any_word(m.content, query_words(query))}


class TextSearchTests:
    """Full-text search over memories and turns."""

    @pytest.fixture
    def text_docs(self, store: MemoryStore, ids: Ids) -> tuple[Scope, list[Memory]]:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), "p")
        docs = [memory(scope, text) for text in DOCS]
        store.put_memories(docs)
        return scope, docs

    def test_text_search_matches_any_word_case_insensitively(
        self, store: MemoryStore, text_docs: tuple[Scope, list[Memory]]
    ) -> None:
        scope, docs = text_docs
        for query in ("zebra MANGO", "Quartz", "VIOLIN nectar", "tundra"):
            hits = store.search_memories(scope, text=query, limit=50)
            expected = _expected(docs, query)
            assert_memory_hits(hits, scope, expected, limit=50)
            assert {h.id for h in hits} == expected, f"query {query!r}"

    def test_more_matching_words_rank_higher(
        self, store: MemoryStore, text_docs: tuple[Scope, list[Memory]]
    ) -> None:
        scope, docs = text_docs
        hits = store.search_memories(scope, text="quartz violin copper", limit=50)
        assert hits and hits[0].id == docs[4].id, "the document holding every word ranks first"
        assert hits[0].score > hits[-1].score

    def test_query_without_words_finds_nothing(
        self, store: MemoryStore, text_docs: tuple[Scope, list[Memory]]
    ) -> None:
        scope, _ = text_docs
        for query in WORDLESS_QUERIES:
            assert store.search_memories(scope, text=query) == [], f"query {query!r}"
            assert store.search_turns(scope.with_session("s"), text=query) == []

    @pytest.mark.parametrize("query", HOSTILE_QUERIES)
    def test_query_syntax_is_never_an_error(
        self, store: MemoryStore, text_docs: tuple[Scope, list[Memory]], query: str
    ) -> None:
        scope, docs = text_docs
        hits = store.search_memories(scope, text=query, limit=50)
        expected = _expected(docs, query)
        assert_memory_hits(hits, scope, expected, limit=50)
        assert {h.id for h in hits} == expected, f"query {query!r} is words, not syntax"

    def test_text_search_limit(
        self, store: MemoryStore, text_docs: tuple[Scope, list[Memory]]
    ) -> None:
        scope, docs = text_docs
        expected = _expected(docs, "zebra quartz violin")
        hits = store.search_memories(scope, text="zebra quartz violin", limit=2)
        assert_memory_hits(hits, scope, expected, limit=2)
        assert len(hits) == 2

    def test_unicode_words_match_case_insensitively(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), None, fresh("s"))
        m = memory(scope, "Ünïcödé größe café 漢字")
        store.put_memories([m, memory(scope, "ascii only")])
        hits = store.search_memories(scope, text="ÜNÏCÖDÉ")
        assert [h.id for h in hits] == [m.id]

    def test_text_search_over_turns(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        written = [turn(scope, text) for text in DOCS]
        store.append_turns(written)
        for query in ("zebra MANGO", "violin", "NOT zebra", "", "%"):
            expected = {t.id for t in written if contains_any_word(t.content, query_words(query))}
            hits = store.search_turns(scope, text=query, limit=50)
            assert_turn_hits(hits, scope, expected, limit=50)
            assert {h.id for h in hits} == expected, f"query {query!r}"


CJK_DOCS = (
    "我对花生过敏",  # I am allergic to peanuts
    "我对花生过敏 (peanut)",
    "私は猫が好きです",  # I like cats
    "東京に住んでいます",  # I live in Tokyo
    "plain English only",
)
CJK_QUERIES: tuple[tuple[str, set[int]], ...] = (
    ("花生", {0, 1}),  # a two-character word inside a sentence
    ("花", {0, 1}),  # a single character
    ("猫", {2}),
    ("東京", {3}),
    ("住んで", {3}),  # kanji and kana together
    ("花生 peanut", {0, 1}),
    ("我对花生过敏 (peanut)", {0, 1}),
    ("PEANUT", {1}),  # the English word of mixed text is still a word
    ("苹果", set()),  # an unrelated word (apple)
    ("大阪", set()),  # Osaka: shares no pair with 東京
)


def _cjk_expected(query: str, expected: set[int]) -> set[int]:
    oracle = {i for i, text in enumerate(CJK_DOCS) if contains_any_word(text, query_words(query))}
    assert oracle == expected, f"the oracle disagrees with the test for {query!r}"
    return expected


def _check_cjk_queries(
    ids: list[str], search: Callable[[str], list[Hit]],
    assert_hits: Callable[[list[Hit], set[str]], None],
) -> None:
    """Every query of :data:`CJK_QUERIES` finds exactly its documents (``ids`` of
    :data:`CJK_DOCS`, in order), checked by ``assert_hits`` and by id."""
    for query, expected in CJK_QUERIES:
        want = {ids[i] for i in _cjk_expected(query, expected)}
        hits = search(query)
        assert_hits(hits, want)
        assert {h.id for h in hits} == want, f"query {query!r}"


class CjkTextSearchTests:
    """Chinese and Japanese text without spaces is searchable by the words inside it."""

    def test_cjk_words_match_inside_unspaced_text(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        docs = [memory(scope, text) for text in CJK_DOCS]
        store.put_memories(docs)
        _check_cjk_queries([d.id for d in docs], lambda query: store.search_memories(
            scope, text=query, limit=50), lambda hits, want: assert_memory_hits(
            hits, scope, want, limit=50))

    def test_cjk_words_match_inside_turns(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        written = [turn(scope, text) for text in CJK_DOCS]
        store.append_turns(written)
        _check_cjk_queries([t.id for t in written], lambda query: store.search_turns(
            scope, text=query, limit=50), lambda hits, want: assert_turn_hits(
            hits, scope, want, limit=50))

    def test_cjk_pair_is_searched_not_its_characters(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        pair = memory(scope, "我对花生过敏")
        apart = memory(scope, "花园里有生菜")  # 花 and 生, never side by side
        store.put_memories([pair, apart])
        hits = store.search_memories(scope, text="花生", limit=50)
        assert [h.id for h in hits] == [pair.id], "a pair is searched for, not its characters"
        store.put_memories([memory(scope, "我对芒果过敏", id=pair.id)])  # mango now
        assert store.search_memories(scope, text="花生", limit=50) == []
        assert [h.id for h in store.search_memories(scope, text="芒果", limit=50)] == [pair.id]
