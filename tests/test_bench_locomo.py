"""The LoCoMo benchmark's off-topic mode measures what the LLM path would inject."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memori import Memori
from memori.retrieval import HybridRetriever

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_locomo


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Memori]:
    with Memori(f"sqlite:///{tmp_path / 'b.db'}", embedder="hash", extractor=None) as m:
        m.attribution(entity_id="conv-1", session_id="s1")
        for text in ("I adopted a puppy named Rex last spring.",
                     "We walk along the river every morning."):
            m.remember(text)
        yield m


def test_injected_applies_the_retrievers_floor_as_the_llm_path_does(mem: Memori) -> None:
    question = "What is the boiling point of mercury in kelvin?"
    mem.retriever = HybridRetriever(embedder=mem.embedder, min_relevance=0.5)
    assert mem.recall(question, entity_id="conv-1")  # recall ranks everything by default
    assert bench_locomo.injected(mem, question, "conv-1") == ([], 0)
    mem.retriever = HybridRetriever(embedder=mem.embedder, min_relevance=0.0)
    hits, tokens = bench_locomo.injected(mem, question, "conv-1")
    assert hits and tokens > 0
    mem.retriever = HybridRetriever(embedder=mem.embedder, min_relevance=0.5)
    hits, tokens = bench_locomo.injected(mem, "What is the puppy called?", "conv-1")
    assert [h.content for h in hits][:1] == ["I adopted a puppy named Rex last spring."]
    assert tokens > 0
