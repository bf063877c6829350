"""The searches of a long query read its first and last words
(``memori.retrieval.focus``): what is cut, what is not, and that every way the
retriever embeds a query (sync, started beside the caller, async, the LLM path through
the real openai SDK) embeds the same text: its first 10 and last 10 words, the words
the text searches read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Capability, Memory, Scope
from memori.embedders import HashEmbedder
from memori.retrieval import HybridRetriever
from memori.retrieval.focus import HEAD, TAIL, VECTOR_HEAD, VECTOR_TAIL, focus

QUESTION = "What was my sister allergic to?"
STORY = ("Yesterday we drove to the lake with the whole family and the dog, stopped for "
         "coffee twice, argued about the music, and finally found the cabin after dark")


def words(n: int, stem: str = "w") -> list[str]:
    return [f"{stem}{i}" for i in range(n)]


def test_a_query_of_at_most_head_and_tail_words_is_searched_whole() -> None:
    for text in ["", "   ", QUESTION, " ".join(words(HEAD + TAIL)),
                 "\x00 \ud800 café\n\t naïve", "  spaced   out  "]:
        assert focus(text) == text


def test_a_longer_query_keeps_its_first_and_last_words() -> None:
    text = " ".join(words(HEAD + TAIL + 1))
    assert focus(text) == " ".join(words(HEAD)) + " " + " ".join(
        words(HEAD + TAIL + 1)[-TAIL:])
    long = f"{STORY}. {STORY}. {QUESTION}"
    cut = focus(long)
    assert cut.endswith(QUESTION) and cut.startswith("Yesterday we drove")
    assert len(cut.split()) == HEAD + TAIL
    assert focus(f"{QUESTION} {STORY}. {STORY}").startswith(QUESTION)


def test_every_two_cjk_characters_count_as_a_word() -> None:
    chinese = "我妹妹对花生过敏" * 10  # 80 characters, no spaces: 40 words
    cut = focus(chinese)
    assert cut == chinese[: 2 * HEAD] + " " + chinese[-2 * TAIL:]
    question = "先月東京で買った本の題名は何でしたか\uff1f"  # 19 characters, kept whole
    assert focus("昨日は妹と一緒に公園を散歩しました。" * 4 + question).endswith(question)
    mixed = "peanut花生" + " word" * 40
    assert focus(mixed).startswith("peanut花生 word")
    assert focus("花生" * 20) == "花生" * 20  # 40 characters: 20 words, whole
    assert focus("花生" * 21) != "花生" * 21


def test_punctuation_and_spacing_inside_the_kept_words_stay() -> None:
    text = "Hi!  So, (briefly):\n" + " ".join(words(60)) + "\n\nWhat's  next?"
    cut = focus(text, head=3, tail=2)
    assert cut == "Hi!  So, (briefly): What's  next?"


def test_a_huge_message_is_cut_from_its_ends() -> None:
    huge = "start here " + "filler " * 2_000_000 + "the question?"  # a 14 MB message
    assert focus(huge, head=2, tail=2) == "start here the question?"
    one_word = "x" * 5_000_000  # no space at all: one word, embedded as it is
    assert focus(one_word) is one_word
    tail_only = " ".join(words(50))
    assert focus(tail_only, head=0, tail=3) == "w47 w48 w49"
    assert focus(tail_only, head=2, tail=0) == "w0 w1"


@pytest.mark.parametrize("pair", [(-1, 4), (4, -1), (0, 0), (12.5, 20), (True, 20),
                                  ("12", 20)])
def test_a_bad_pair_is_refused_when_the_retriever_is_made(pair: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="head and tail"):
        focus("anything", *pair)
    with pytest.raises(ValueError, match="head and tail"):
        HybridRetriever(focus_words=pair)
    with pytest.raises(ValueError, match=r"\(first, last\)"):
        HybridRetriever(focus_words=(12,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="head and tail"):
        HybridRetriever(vector_words=pair)
    with pytest.raises(ValueError, match=r"\(first, last\)"):
        HybridRetriever(vector_words=(12, 2, 3))  # type: ignore[arg-type]


def embedded(query: str) -> str:
    """What the default retriever embeds of ``query``."""
    return focus(query, VECTOR_HEAD, VECTOR_TAIL)


def test_the_vector_reads_the_words_the_text_searches_read_by_default() -> None:
    assert (HEAD, TAIL, VECTOR_HEAD, VECTOR_TAIL) == (10, 10, 10, 10)
    retriever = HybridRetriever()
    long = " ".join(words(60))
    assert retriever.embedded(long) == " ".join(words(10) + words(60)[-10:])
    assert retriever.focused(long) == retriever.embedded(long)
    short = " ".join(words(20))  # nearly every LoCoMo question: read whole
    assert retriever.embedded(short) == short == retriever.focused(short)
    assert HybridRetriever(vector_words=(10, 12), focus_words=(12, 20)).embedded(long) \
        == " ".join(words(10) + words(60)[-12:])
    assert HybridRetriever(vector_words=None).embedded(long) == retriever.focused(long)
    assert HybridRetriever(vector_words=None, focus_words=None).embedded(long) == long
    assert HybridRetriever(vector_words=(3, 4), focus_words=None).embedded(long) == " ".join(
        words(3) + words(60)[-4:])


class Recording(HashEmbedder):
    """The hash embedder, noting each text it embeds."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(dim=64)
        self.texts: list[str] = []
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self.lock:
            self.texts.extend(texts)
        return super().embed(texts)


class GilFree(Recording):
    """Declared GIL-free: the retriever embeds its queries on a pool (``start_query``)."""

    gil_free = True


LONG = f"{STORY}. The old canoe leaks again. {STORY}. {QUESTION}"


@pytest.mark.parametrize("embedder_cls", [Recording, GilFree])
def test_recall_searches_the_first_and_last_words_of_a_long_message(
    tmp_path: Path, embedder_cls: type[Recording],
) -> None:
    embedder = embedder_cls()
    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder=embedder, extractor=None)
    try:
        mem.attribution(entity_id="ana")
        mem.remember("The canoe was repaired in May.")
        mem.remember("My sister Lena is allergic to peanuts.")
        embedder.texts.clear()
        hits = mem.recall(LONG, limit=5, min_relevance=0.0)
        assert embedder.texts == [embedded(LONG)]
        assert "canoe" not in focus(LONG) and "canoe" not in embedded(LONG)
        text = mem.retriever.text_for(LONG)  # type: ignore[attr-defined]
        assert "allergic" in text and "canoe" not in text
        assert "allergic" in hits[0].item.content
        # the whole message, as before: the canoe, named in its middle, is found by text
        mem.retriever = HybridRetriever(embedder=embedder, focus_words=None, vector_words=None)
        embedder.texts.clear()
        hits = mem.recall(LONG, limit=5, min_relevance=0.0)
        assert embedder.texts == [LONG]
        assert "canoe" in mem.retriever.text_for(LONG)
        assert any("canoe" in h.item.content and h.signals.get("memory_text")
                   for h in hits), [(h.item.content, h.signals) for h in hits]
    finally:
        mem.close()


def test_the_async_query_vector_is_that_of_the_cut_text() -> None:
    class NativeAsync:  # what ``wants_vector`` reads of a natively async store
        capabilities = frozenset({Capability.VECTOR_SEARCH, Capability.NATIVE_ASYNC})

    embedder = Recording()
    retriever = HybridRetriever(embedder=embedder)
    vector = asyncio.run(retriever._aquery_vector(NativeAsync(), LONG))  # type: ignore[arg-type]
    assert embedder.texts == [embedded(LONG)]
    assert vector == embedder.embed([embedded(LONG)])[0]


def test_the_llm_path_embeds_the_cut_message(tmp_path: Path) -> None:
    """The user's journey: a registered openai client (the real SDK, against the stand-in)
    sends a long message ending in its question; the query's vector is that of its first
    and last words, and the memory it asks about reaches the model."""
    from context_blocks import last_blocks, say
    from memori.testing import OpenAIServer

    embedder = Recording()
    mem = Memori(f"sqlite:///{tmp_path / 'llm.db'}", embedder=embedder, extractor=None)
    try:
        mem.attribution(entity_id="ana", session_id="s1")
        mem.store.put_memories([Memory(
            entity_id="ana", content="My sister Lena is allergic to peanuts.",
            embedding=tuple(embedder.embed(["My sister Lena is allergic to peanuts."])[0]))])
        embedder.texts.clear()
        with OpenAIServer() as server:
            client = server.client()
            mem.llm.register(client)
            say(client, LONG)
            [block] = last_blocks(server)
        assert embedded(LONG) in embedder.texts
        assert LONG not in embedder.texts[:1]  # the query's own vector: the cut text
        assert "allergic to peanuts" in block
        assert mem.store.search_memories(Scope("ana"), text="peanuts", limit=1)
    finally:
        mem.close()


def test_the_ends_read_from_windows_are_those_of_the_whole_query() -> None:
    """Against a plain reading of every word: random texts of Latin, CJK, digits,
    punctuation and whitespace of every kind, some longer than the first window."""
    import random
    import re

    from memori.core.cjk import CJK_CHARS

    word = re.compile(f"(?P<cjk>[{CJK_CHARS}])|[^\\s{CJK_CHARS}]+")

    def plainly(text: str, head: int, tail: int) -> str:
        found = list(word.finditer(text))
        sizes = [0.5 if w.lastgroup == "cjk" else 1.0 for w in found]
        if sum(sizes) <= head + tail:
            return text
        head_end, total = 0, 0.0
        for w, size in zip(found, sizes, strict=True):
            total += size
            if total > head:
                break
            head_end = w.end()
        if not tail:
            return text[:head_end]
        total, tail_start = 0.0, len(text)
        for w, size in zip(reversed(found), reversed(sizes), strict=True):
            total += size
            if total > tail or w.start() < head_end:
                break
            tail_start = w.start()
        return f"{text[:head_end]} {text[tail_start:]}" if head else text[tail_start:]

    rng = random.Random(3)
    pieces = ["word", "peanut", "花生", "我", "妹妹", "ね", "한국어", "2023", ",", "?!", " ",
              "  ", "\n", "\t", "\u3000", "x" * 300, "東京" * 90]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        head, tail = rng.choice([(12, 20), (0, 5), (3, 0), (1, 1), (12, 200)])
        assert focus(text, head, tail) == plainly(text, head, tail), (text, head, tail)
