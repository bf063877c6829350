"""Text queries reduced to content words, keeping the end of a long question.

The function in core, each backend's query builder, and end to end: a memory that
matches only the last words of a 300-word question is found by text search alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memori import Memori
from memori.backends.mongo.text_search import MAX_QUERY_TERMS
from memori.backends.mongo.text_search import query_terms as mongo_terms
from memori.backends.postgres.text import tsquery_text
from memori.backends.qdrant.sparse import query_vector, word_index
from memori.backends.sqlite.fts import MAX_QUERY_TOKENS, match_expression, query_tokens
from memori.core import Hit
from memori.core.query_terms import (
    ENGLISH_STOP_WORDS,
    bounded_terms,
    content_terms,
    last_distinct,
    query_terms,
    words,
)
from memori.retrieval import HybridRetriever

FILLER = " ".join(f"topic{i} and the" for i in range(100))
"""300 words: 100 distinct content words, each with two stop words."""
QUESTION = FILLER + " so which marathon did Gwendolyn run in Reykjavik?"
FACT = "Gwendolyn ran Reykjavik's marathon in 2019"
"""Shares no word with the filler: found through the question's last words only."""
DISTRACTOR = "notes on topic1 and topic2"
"""Matches the first words of the question only."""


# the core function


def test_query_terms_drops_stop_words_and_folds_case() -> None:
    assert query_terms("What is the NAME of my dog?") == ["name", "dog"]
    assert query_terms("Größe ÜBER café") == ["grösse", "über", "café"]


def test_a_query_of_stop_words_only_keeps_them() -> None:
    assert query_terms("Who are you?") == ["who", "are", "you"]
    assert query_terms("") == [] and query_terms("%%% --") == []


def test_negations_are_stop_words() -> None:
    assert {"no", "not", "nor"} <= ENGLISH_STOP_WORDS
    assert query_terms("I do not eat meat") == ["eat", "meat"]


def test_duplicates_keep_their_last_position() -> None:
    assert last_distinct(["a", "b", "a", "c", "b"]) == ["a", "c", "b"]
    assert query_terms("dog cat dog bird") == ["cat", "dog", "bird"]


def test_past_max_terms_the_last_content_words_are_kept() -> None:
    terms = query_terms(QUESTION, max_terms=10)
    assert terms[-4:] == ["marathon", "gwendolyn", "run", "reykjavik"]
    assert len(terms) == 10 and terms[0] == "topic94"
    assert query_terms("a b c", max_terms=0) == []


def test_words_are_unicode_word_runs() -> None:
    assert words("snake_case 3.14 e-mail 漢字 naïve") == [
        "snake_case", "3", "14", "e", "mail", "漢字", "naïve"]
    assert content_terms(["the", "x"], 5) == ["x"]


def test_bounded_terms_leaves_a_short_query_whole() -> None:
    assert bounded_terms(["what", "is", "the", "goal", "is"], 5) == ["what", "is", "the", "goal"]
    assert bounded_terms(["the", "a", "one", "two", "three"], 2) == ["two", "three"]


# each backend's query builder


def test_sqlite_fts_query_keeps_the_end_of_a_long_question() -> None:
    tokens = query_tokens(QUESTION)
    assert len(tokens) == MAX_QUERY_TOKENS
    assert {"gwendolyn", "reykjavik", "marathon"} <= set(tokens)
    assert "the" not in tokens and "topic0" not in tokens
    assert query_tokens("What is the goal") == ["what", "is", "the", "goal"]  # short: unchanged
    expression = match_expression("e", QUESTION)
    assert expression is not None and '"reykjavik"' in expression


def test_postgres_tsquery_keeps_the_end_of_a_long_question() -> None:
    tsquery = tsquery_text(QUESTION)
    assert tsquery is not None and "'reykjavik'" in tsquery and "'topic0'" not in tsquery
    assert tsquery.count(" | ") == 63
    assert tsquery_text("NOT zebra'); --") == "'not' | 'zebra'"


def test_mongo_query_terms_keep_the_end_of_a_long_question() -> None:
    terms = mongo_terms(QUESTION)
    assert len(terms) == MAX_QUERY_TERMS and terms[-1] == "reykjavik"
    assert mongo_terms('-a "b" c*') == ["a", "b", "c"]


def test_qdrant_sparse_query_keeps_the_end_of_a_long_question() -> None:
    indices, values = query_vector(QUESTION)
    assert len(indices) == 64 and values == [1.0] * 64
    assert word_index("reykjavik") in indices and word_index("topic0") not in indices
    assert len(query_vector("the the dog")[0]) == 2


# end to end: Memori with no embedder, text search only


def _recall_finds_fact(mem: Memori) -> list[Hit]:
    mem.attribution(entity_id=f"user-{uuid.uuid4().hex[:8]}", process_id="coach")
    mem.remember(FACT)
    mem.remember(DISTRACTOR)
    return mem.recall(QUESTION)


def _backend_text_only() -> HybridRetriever:
    """The default retriever with the query sent as is, so the backend's query building
    alone decides (the default query processor cuts long queries too; see below)."""
    return HybridRetriever(embedder=None, query_processor=None)


@pytest.fixture
def open_memori() -> Iterator[Callable[..., Memori]]:
    opened: list[Memori] = []

    def factory(conn: Any, **options: Any) -> Memori:
        mem = Memori(conn, embedder=None, extractor=None, **options)
        opened.append(mem)
        return mem

    yield factory
    for mem in opened:
        mem.close()


def test_sqlite_finds_a_memory_matching_the_end_of_a_long_question(
    open_memori: Callable[..., Memori], sqlite_url: str,
) -> None:
    hits = _recall_finds_fact(open_memori(sqlite_url, retriever=_backend_text_only()))
    assert hits and hits[0].content == FACT


def test_memory_store_finds_a_memory_matching_the_end_of_a_long_question(
    open_memori: Callable[..., Memori],
) -> None:
    hits = _recall_finds_fact(open_memori("memory://", retriever=_backend_text_only()))
    assert hits and hits[0].content == FACT


def test_qdrant_finds_a_memory_matching_the_end_of_a_long_question(
    open_memori: Callable[..., Memori],
) -> None:
    pytest.importorskip("qdrant_client")
    hits = _recall_finds_fact(open_memori("qdrant+memory://", retriever=_backend_text_only()))
    assert hits and hits[0].content == FACT


def test_postgres_finds_a_memory_matching_the_end_of_a_long_question(pg_url: str) -> None:
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    schema = f"qt_{uuid.uuid4().hex[:10]}"
    try:
        with Memori(pg_url, embedder=None, extractor=None, retriever=_backend_text_only(),
                    store_options={"schema": schema}) as mem:
            hits = _recall_finds_fact(mem)
        assert hits and hits[0].content == FACT
    finally:
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_mongo_finds_a_memory_matching_the_end_of_a_long_question() -> None:
    pymongo = pytest.importorskip("pymongo")
    from memori.testing.mongo_server import shared_server

    url, database = shared_server().url, f"memori_qt_{uuid.uuid4().hex[:10]}"
    try:
        with Memori(url, embedder=None, extractor=None, retriever=_backend_text_only(),
                    store_options={"database": database}) as mem:
            hits = _recall_finds_fact(mem)
        assert hits and hits[0].content == FACT
    finally:
        with pymongo.MongoClient(url) as client:
            client.drop_database(database)


def test_default_recall_finds_a_memory_matching_the_end_of_a_long_question(
    open_memori: Callable[..., Memori], sqlite_url: str,
) -> None:
    hits = _recall_finds_fact(open_memori(sqlite_url))
    assert hits and hits[0].content == FACT
