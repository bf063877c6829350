"""Chinese, Japanese and Korean text search (issue #18): the one rule of memori.core.cjk,
every backend's index and query side following it, and the user's journey.

The conformance suite (``memori.conformance.search_text.CjkTextSearchTests``) runs the
searches on every backend; here: the rule itself, each backend's tokeniser equal to
core's, ``Memori.remember`` / ``recall`` with the default relevance floor, and a
registered LLM call that gets the memory injected.
"""

from __future__ import annotations

from collections import Counter

import pytest

from memori import Memori
from memori.backends.mongo import text_search as mongo
from memori.backends.postgres import text as pg
from memori.backends.qdrant import sparse
from memori.backends.sqlite import fts, text_index
from memori.conformance import scoring
from memori.core import cjk, scores
from memori.core.query_terms import query_terms
from memori.retrieval.relevance import MIN_RELEVANCE, Relevance
from memori.testing.openai_server import OpenAIServer

SAMPLES = (
    "我对花生过敏", "我对花生过敏 (peanut)", "花", "私は猫が好きです。東京に住んでいます",
    "アレルギー", "저는 땅콩 알레르기가 있어요", "peanut花生butter_x 3.14", "哈哈哈",
    "Größe ÜBER café", "", "%%% --", "ｶﾀｶﾅ 々 \u3007",
)


def test_runs_are_cut_into_pairs_and_characters() -> None:
    assert cjk.index_tokens(["我对花生"]) == ["我", "我对", "对", "对花", "花", "花生", "生"]
    assert cjk.query_tokens(["我对花生"]) == ["我对", "对花", "花生"]
    assert cjk.query_tokens(["花"]) == cjk.index_tokens(["花"]) == ["花"]
    assert cjk.query_tokens(["peanut花生x"]) == ["peanut", "花生", "x"]
    assert cjk.query_tokens(["snake_case", "naïve"]) == ["snake_case", "naïve"]  # unchanged
    assert scores.query_words("住んで") == ["住ん", "んで"]  # kana and kanji together
    assert not cjk.has_cjk("Größe café") and cjk.has_cjk("x漢")


@pytest.mark.parametrize("text", SAMPLES)
def test_every_backend_cuts_text_as_core(text: str) -> None:
    stored = scores.words(text)
    query = scores.query_words(text)
    assert scoring.words(text) == stored and scoring.query_words(text) == query  # the oracle
    assert mongo.tokenize(text) == stored and sparse.words(text) == stored
    assert pg.words(text) == stored
    distinct = list(dict.fromkeys(query))
    if text.lower() == text.casefold():  # SQLite folds with lower(), as unicode61 does
        assert text_index.term_counts(text) == Counter(stored)
        assert fts.query_tokens(text) == distinct
    assert pg.query_words(text) == distinct and mongo.query_terms(text) == distinct
    assert sparse.query_vector(text)[0] == sorted({sparse.word_index(w) for w in distinct})
    assert set(query) <= set(stored)  # a text always matches itself
    assert set(query_terms(text)) <= set(query)


def test_sqlite_fts_row_of_cjk_text_holds_its_tokens() -> None:
    assert fts.indexed_content("plain English") is None  # the trigger's copy stays
    assert fts.indexed_content("我对花生 OK") == "我 我对 对 对花 花 花生 生 OK"


def test_relevance_overlap_counts_cjk_words() -> None:
    assert Relevance("花生").overlap("我对花生过敏") == 1.0
    assert Relevance("花").overlap("我对花生过敏") == 1.0
    assert Relevance("苹果").overlap("我对花生过敏") == 0.0


def test_remember_then_recall_a_chinese_word(sqlite_url: str) -> None:
    with Memori(sqlite_url, embedder=None, extractor=None) as mem:
        mem.attribution(entity_id="u", process_id="app")
        mem.remember("我对花生过敏")
        mem.remember("我喜欢喝咖啡")  # I like coffee
        mem.remember("The user lives in Oslo")
        for floor in (0.0, MIN_RELEVANCE):
            hits = mem.recall("花生", min_relevance=floor)
            assert [h.content for h in hits][:1] == ["我对花生过敏"], floor
            assert "我喜欢喝咖啡" not in [h.content for h in hits]
        assert [h.content for h in mem.recall("咖啡", min_relevance=MIN_RELEVANCE)] == [
            "我喜欢喝咖啡"]
        assert mem.recall("苹果", min_relevance=MIN_RELEVANCE) == []
        hits = mem.recall("我对什么过敏\uff1f", min_relevance=MIN_RELEVANCE)  # allergic to?
        assert [h.content for h in hits][:1] == ["我对花生过敏"]


def test_a_registered_call_gets_the_cjk_memory(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="u", session_id="s")
        mem.remember("我对花生过敏")
        mem.remember("我喜欢喝咖啡")
        client = mem.llm.register(openai_server.client())
        client.chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "这个蛋糕有花生吗\uff1f"}])
        sent = str(openai_server.last_request("chat").messages)
        assert "我对花生过敏" in sent
        assert "我喜欢喝咖啡" not in sent
