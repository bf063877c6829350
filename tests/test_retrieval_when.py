"""A query that names a time ranks what was said then first (``memori.retrieval.when``):
the window a query asks about, memories dated by their ``event_date``, and the user's
journey through ``Memori.recall`` on a real SQLite store."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Memory, Scope, Turn
from memori.embedders import HashEmbedder
from memori.retrieval import HybridRetriever
from memori.retrieval.hybrid import default_weights
from memori.retrieval.when import MARGIN, Window, asked_window, iso_span, said_within

NOW = datetime(2023, 5, 20, 12, tzinfo=timezone.utc).timestamp()


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("query", "first", "after"), [
    ("What did I do on 9 October, 2022?", "2022-10-09", "2022-10-10"),
    ("what did we plan for October 9th 2022", "2022-10-09", "2022-10-10"),
    ("Which book did I read in March 2023?", "2023-03-01", "2023-04-01"),
    ("Where did I travel in 2022?", "2022-01-01", "2023-01-01"),
    ("What did I cook yesterday?", "2023-05-19", "2023-05-20"),
    ("what did I say two weeks ago", "2023-05-06", "2023-05-07"),
])
def test_a_named_time_gives_that_time_widened_by_a_week(
    query: str, first: str, after: str,
) -> None:
    assert asked_window(query, NOW) == Window(at(first) - MARGIN, at(after) + MARGIN)


@pytest.mark.parametrize("query", [
    "What do I like to cook?", "", "我上周做了什么\uff1f", "\x00\ud800 May be", "in 99999",
    "on 31 February 2023",
])
def test_a_query_that_names_no_time_gives_none(query: str) -> None:
    assert asked_window(query, NOW) is None


def test_only_the_end_of_a_long_query_is_read() -> None:
    filler = "words " * 1_000_000  # a 6 MB message
    assert asked_window("on 9 October 2022 " + filler, NOW) is None
    assert asked_window(filler + "on 9 October 2022", NOW) is not None


def test_iso_spans_and_what_is_not_one() -> None:
    assert iso_span("2023-05-08") == Window(at("2023-05-08"), at("2023-05-09"))
    assert iso_span("2023-12") == Window(at("2023-12-01"), at("2024-01-01"))
    assert iso_span("2023") == Window(at("2023-01-01"), at("2024-01-01"))
    for text in ("2023-13", "2023-02-30", "May", "2023-5-8", "0000", "2023-05-08T10:00"):
        assert iso_span(text) is None


def test_a_memory_about_a_time_in_the_window_counts_whenever_it_was_said() -> None:
    window = asked_window("What happened in March 2023?", NOW)
    assert window is not None
    later = at("2023-05-01")
    about = Memory(entity_id="u", content="ran a marathon", created_at=later,
                   metadata={"event_date": "2023-03-12"})
    undated = Memory(entity_id="u", content="ran a marathon", created_at=later)
    odd = Memory(entity_id="u", content="ran a marathon", created_at=later,
                 metadata={"event_date": "soon"})
    said = Turn(entity_id="u", session_id="s", role="user", content="x",
                created_at=at("2023-03-30"))
    assert said_within(about, window) and said_within(said, window)
    assert not said_within(undated, window) and not said_within(odd, window)


HIKE_THEN = "Hiking with my sister today, up the ridge."
HIKE_LATER = "Hiking plans: hiking boots, hiking maps, where to go hiking next."
QUESTION = "Where did I go hiking on 9 October 2022?"


def _conversation(path: Path, **retriever: object) -> Memori:
    mem = Memori(f"sqlite:///{path}", embedder=HashEmbedder(dim=64),
                 extractor=None)
    mem.retriever = HybridRetriever(embedder=mem.embedder, **retriever)  # type: ignore[arg-type]
    for session, text, said in (("autumn", HIKE_THEN, "2022-10-09"),
                                ("spring", HIKE_LATER, "2023-04-02")):
        mem.attribution(entity_id="ana", session_id=session)
        mem.record([Turn(entity_id="ana", session_id=session, role="user", content=text,
                         created_at=at(said) + 3600)])
    mem.flush()
    return mem


def test_recall_puts_what_was_said_on_the_day_asked_first(tmp_path: Path) -> None:
    """The later turn matches the words better (hiking four times); asked about 9 October
    2022, the turn said that day goes first, and without the signal it would not."""
    off = _conversation(tmp_path / "off.db", weights={**default_weights(), "when": 0.0})
    try:
        assert off.recall(QUESTION, entity_id="ana")[0].content == HIKE_LATER
    finally:
        off.close()
    mem = _conversation(tmp_path / "on.db")
    try:
        hits = mem.recall(QUESTION, entity_id="ana")
        assert [h.content for h in hits] == [HIKE_THEN, HIKE_LATER]
        assert hits[0].signals["when"] == 1.0 and "when" not in hits[1].signals
        # no time named: the words decide, as before
        assert mem.recall("Where did I go hiking?", entity_id="ana")[0].content == HIKE_LATER
        # the async path ranks alike
        retriever = mem.retriever
        assert isinstance(retriever, HybridRetriever)
        found = asyncio.run(retriever.aretrieve(mem.store, Scope("ana"), QUESTION))
        assert [h.content for h in found] == [HIKE_THEN, HIKE_LATER]
    finally:
        mem.close()


def test_a_date_brings_in_nothing_the_words_did_not_find(tmp_path: Path) -> None:
    """Nothing is searched by time alone: a question about something never said, on a
    day something else was said, does not pass the relevance floor on that account."""
    mem = _conversation(tmp_path / "when.db")
    try:
        retriever = mem.retriever
        assert isinstance(retriever, HybridRetriever)
        hits = retriever.retrieve(mem.store, Scope("ana"),
                                  "What was the quantum chromodynamics lecture on 9 October "
                                  "2022 about?")
        assert hits == []
    finally:
        mem.close()


def test_the_signal_is_a_weight_like_the_others() -> None:
    assert HybridRetriever(weights={"when": 1.0}).window(QUESTION) is not None
    assert HybridRetriever(weights={"memory_text": 1.0}).window(QUESTION) is None
    with pytest.raises(ValueError, match="must not be negative"):
        HybridRetriever(weights={"when": -1.0})


def test_words_of_time_count_only_beside_a_word_of_the_subject() -> None:
    from memori.retrieval.relevance import Relevance
    from memori.retrieval.when import is_time_word

    window = asked_window(QUESTION, NOW)
    judge = Relevance(QUESTION, window)
    assert judge.overlap(HIKE_THEN, said_then=True) == 1.0  # hiking + 9, october, 2022
    assert judge.overlap(HIKE_THEN) == 0.25  # hiking alone
    eating = Relevance("What did I eat on 9 October 2022?", window)
    assert eating.overlap(HIKE_THEN, said_then=True) == 0.0  # the date alone: nothing
    assert Relevance(QUESTION).overlap(HIKE_THEN, said_then=True) == 0.25  # no window
    assert [w for w in ("october", "oct", "9th", "2022", "yesterday", "hiking", "42", "3000")
            if is_time_word(w)] == ["october", "oct", "9th", "2022", "yesterday"]


@pytest.mark.parametrize("now", [float("inf"), float("nan"), 1e300, -1e300])
def test_a_clock_out_of_the_calendar_names_no_time(now: float) -> None:
    """A broken or pinned clock costs the signal, never the recall."""
    assert asked_window("What did I do last week?", now) is None
    retriever = HybridRetriever(embedder=HashEmbedder(dim=64), clock=lambda: now)
    assert retriever.window(QUESTION) is None


def test_asked_through_the_llm_path_yesterday_goes_first(tmp_path: Path) -> None:
    """The user's journey: a registered openai client (the real SDK, against the stand-in),
    a turn said yesterday and a better word match said a month ago; "...yesterday?" is
    resolved against the real clock and the model reads yesterday's turn first."""
    from context_blocks import last_blocks, say
    from memori.testing import OpenAIServer

    now = time.time()
    mem = Memori(f"sqlite:///{tmp_path / 'llm.db'}", embedder=HashEmbedder(dim=64),
                 extractor=None)
    try:
        for session, text, said in (("then", HIKE_LATER, now - 30 * 86_400),
                                    ("yesterday", HIKE_THEN, now - 86_400)):
            mem.attribution(entity_id="ana", session_id=session)
            mem.record([Turn(entity_id="ana", session_id=session, role="user", content=text,
                             created_at=said)])
        assert mem.flush()
        with OpenAIServer() as server:
            client = server.client()
            mem.llm.register(client)
            mem.attribution(entity_id="ana", session_id="today")
            say(client, "Where did I go hiking yesterday?")
            [block] = last_blocks(server)
        assert block.index(HIKE_THEN) < block.index(HIKE_LATER)
    finally:
        mem.close()
