"""The relevance floor on the default retriever and the LLM path, with the default local
embedder (the floor reads real cosines): a question about nothing the user said recalls
and injects nothing; a relevant one still finds its memory; earlier questions and
acknowledgements are not shown as memories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from context_blocks import blocks
from memori import Memori
from memori.core import Turn
from memori.llm.filler import is_acknowledgement, is_question_only
from memori.retrieval import ABSOLUTE_SIGNALS, MIN_RELEVANCE, HybridRetriever
from memori.testing import OpenAIServer

USER = "dana@example.com"
FACTS = [
    "My cat is called Miso.",
    "I work as a nurse at the children's hospital.",
    "I am training for the Berlin marathon in September.",
    "My sister Anna lives in Lisbon.",
    "I am allergic to peanuts.",
    "I play the cello in a community orchestra.",
    "My favourite food is ramen.",
    "I moved to Leeds two years ago.",
    "I am learning Japanese for a trip to Osaka.",
    "My partner is called Sam.",
    "I drive an old green Volvo.",
    "I volunteer at the animal shelter on Saturdays.",
]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Memori]:
    m = Memori(f"sqlite:///{tmp_path / 'floor.db'}")  # the default (local) embedder
    m.attribution(entity_id=USER, session_id="facts")
    for fact in FACTS:
        m.remember(fact)
    yield m
    m.close()


def ask(mem: Memori, server: OpenAIServer, text: str, session: str) -> list[str]:
    """The context blocks a registered client's call sent, in a new session."""
    client = server.client()
    mem.llm.register(client)
    mem.attribution(entity_id=USER, session_id=session)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return blocks(server.last_request("chat").messages)


def test_the_default_retriever_has_a_documented_floor() -> None:
    assert HybridRetriever().min_relevance == MIN_RELEVANCE > 0
    with pytest.raises(ValueError, match="min_relevance"):
        HybridRetriever(min_relevance=1.5)


def test_an_unrelated_question_recalls_nothing_and_injects_no_block(
    mem: Memori, server: OpenAIServer,
) -> None:
    assert len(mem.memories()) == len(FACTS)
    assert mem.recall("quantum chromodynamics", min_relevance=MIN_RELEVANCE) == []
    assert mem.recall("How does a jet engine produce thrust?", min_relevance=MIN_RELEVANCE) == []
    # recall() itself ranks everything, each hit saying how relevant it is
    ranked = mem.recall("quantum chromodynamics")
    assert ranked and all(h.signals["relevance"] < MIN_RELEVANCE for h in ranked)
    assert ask(mem, server, "quantum chromodynamics", "physics") == []
    # without the floor, the same question gets the user's memories anyway
    mem.retriever = HybridRetriever(embedder=mem.embedder, min_relevance=0)
    assert len(mem.recall("quantum chromodynamics")) == 10
    assert ask(mem, server, "quantum chromodynamics", "physics-2")


def test_a_relevant_question_still_recalls_its_memory(
    mem: Memori, server: OpenAIServer,
) -> None:
    hits = mem.recall("What is my cat called?", min_relevance=MIN_RELEVANCE)
    assert hits and hits[0].content == "My cat is called Miso."
    assert set(ABSOLUTE_SIGNALS) <= set(hits[0].signals)
    assert hits[0].signals["overlap"] == 1.0 and hits[0].signals["relevance"] >= MIN_RELEVANCE
    assert all(h.signals["relevance"] >= MIN_RELEVANCE for h in hits)
    # a semantic match without shared words passes on its cosine
    allergy = mem.recall("Do I have any allergies?", min_relevance=MIN_RELEVANCE)
    assert allergy and allergy[0].content == "I am allergic to peanuts."
    sent = ask(mem, server, "Where does my sister live?", "family")
    assert len(sent) == 1 and "Anna lives in Lisbon" in sent[0]
    assert "Miso" not in sent[0] and "cello" not in sent[0]


def test_acknowledgements_and_earlier_questions_are_not_injected_as_memories(
    mem: Memori, server: OpenAIServer,
) -> None:
    mem.attribution(entity_id=USER, session_id="earlier")
    scope = mem.scope()
    said = [("user", "What was the name of my grandmother's village again?"),
            ("assistant", "Noted."),
            ("user", "My grandmother grew up in a village called Hallstatt."),
            ("assistant", "Got it"),
            ("user", "Which village should I visit first?"),
            ("assistant", "Sure")]
    mem.record([Turn(entity_id=USER, session_id=str(scope.session_id), role=role,
                     content=text, created_at=1_700_000_000.0 + i)
                for i, (role, text) in enumerate(said)])
    mem.flush()
    query = "Tell me about my grandmother's village"
    recalled = [h.content for h in mem.recall(query, limit=20)]
    # the retriever still returns them (a question lends its score to the answer)...
    assert "What was the name of my grandmother's village again?" in recalled
    assert "Noted." in recalled or "Got it" in recalled
    sent = ask(mem, server, query, "later")
    assert len(sent) == 1
    block = sent[0]
    # ...but the block shows only what the user stated
    assert "called Hallstatt" in block
    assert "again?" not in block and "visit first?" not in block
    for ack in ("Noted.", "Got it", "Sure"):
        assert f") {ack}" not in block


@pytest.mark.parametrize(("text", "expected"), [
    ("Noted.", True), ("OK", True), ("Got it", True), ("Sure", True),
    ("Sure, will do!", True), ("Thanks!", True), ("Yes", False),
    ("Okay, I booked the table for Friday.", False),
])
def test_acknowledgements(text: str, expected: bool) -> None:
    assert is_acknowledgement(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("What is my sister's name?", True),
    ("Where should I go in Oslo?", True),
    ("Did you make it to Kyoto?", True),
    ("I moved to Oslo last year, any good cafes?", False),
    ("My sister is Anna, what do you think of the name?", False),
    ("I love tea. Do you?", False),
    ("My dog is called Rex.", False),
])
def test_question_only_turns(text: str, expected: bool) -> None:
    assert is_question_only(text) is expected


def test_a_fact_said_on_the_way_to_a_question_reaches_a_later_call(
    tmp_path: Path, server: OpenAIServer,
) -> None:
    """As a user says it: "Just moved to Berlin, any tips?" is a question, so the turn is
    not shown as a memory, but the move it states is remembered and shown later."""
    with Memori(f"sqlite:///{tmp_path / 'berlin.db'}") as m:
        client = server.client()
        m.llm.register(client)
        m.attribution(entity_id="ola", session_id="monday")
        server.enqueue("Welcome! Try the cafés of Kreuzberg, and get a bike.")
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Just moved to Berlin, any tips?"}])
        m.flush()
        assert [x.content for x in m.memories()] == ["Just moved to Berlin."]
        m.attribution(entity_id="ola", session_id="friday")
        client.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "Which neighbourhood of Berlin suits a cyclist?"}])
        sent = blocks(server.last_request("chat").messages)
        assert len(sent) == 1 and "Just moved to Berlin." in sent[0]
        assert "any tips?" not in sent[0]  # the question itself is not shown
