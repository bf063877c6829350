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


def _conversation(name: str, texts: list[str], question: str) -> bench_locomo.Conversation:
    turns = tuple(bench_locomo.DialogueTurn(f"D1:{i}", "Ann", t, None)
                  for i, t in enumerate(texts))
    session = bench_locomo.Session(1, "8 May, 2023", 1683504000.0, turns)
    q = bench_locomo.Question(name, question, frozenset({"D1:0"}), 4)
    return bench_locomo.Conversation(name, ("Ann", "Bo"), (session,), (q,))


def test_long_messages_wrap_the_question_in_another_conversations_words(
    mem: Memori,
) -> None:
    import bench_locomo_long as long

    convs = [_conversation("conv-1", ["I adopted a puppy named Rex last spring."],
                           "What is the puppy called?"),
             _conversation("conv-2", ["one two three", "four five", "six seven eight"],
                           "Where?")]
    assert long.filler_words(convs, 0, 1, 4) == "four five six seven"  # conv-2, turn 1 on
    assert long.filler_words(convs, 1, 0, 2) == "I adopted"  # the next one, cyclic
    assert long.message("question last", "Why?", "a b.") == "a b. Why?"
    assert long.message("question first", "Why?", "a b") == "Why? a b"
    assert long.message("alone", "Why?", "a b") == "Why?"
    mem.retriever = HybridRetriever(embedder=mem.embedder)
    results = long.ask_all(mem, convs[:1], 3)
    assert set(results) == set(long.WAYS)
    for r in results.values():  # one question, asked three ways; its evidence is a turn
        assert r["recall"]["all"]["questions"] == 1  # never recorded here: nothing found
        assert r["recall"]["all"]["R@10"] == 0.0 and r["recall"]["all"]["foreign_hits"] == 0


def test_a_full_locomo_file_splits_into_the_dev_conversations_and_the_held_out_ones(
) -> None:
    names = ["conv-26", "conv-30", "conv-41", "conv-42", "conv-43", "conv-44", "conv-50"]
    convs = [_conversation(n, ["Hello."], "Who?") for n in names]
    dev = bench_locomo.of_split(convs, "dev")
    held_out = bench_locomo.of_split(convs, "held-out")
    assert [c.sample_id for c in dev] == names[:5]
    assert [c.sample_id for c in held_out] == ["conv-44", "conv-50"]
    assert bench_locomo.of_split(convs, "all") == convs
    # the dev split's figures keep their file; the others never overwrite them
    assert bench_locomo.split_suffix(c.sample_id for c in dev) == ""
    assert bench_locomo.split_suffix(c.sample_id for c in held_out) == "_heldout"
    assert bench_locomo.split_suffix(c.sample_id for c in convs) == "_full"
    assert bench_locomo.of_split(convs[:5], "held-out") == []  # the dev file holds none
    with pytest.raises(ValueError, match="split is one of"):
        bench_locomo.of_split(convs, "test")


def _locomo_item(sample_id: str, fact: str) -> dict[str, object]:
    """One conversation in ``locomo10.json``'s layout: a session of two turns, a question."""
    turns = [{"speaker": "Ann", "dia_id": "D1:1", "text": fact},
             {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice, tell me more!"}]
    return {"sample_id": sample_id,
            "conversation": {"speaker_a": "Ann", "speaker_b": "Bo", "session_1": turns,
                             "session_1_date_time": "1:56 pm on 8 May, 2023"},
            "qa": [{"question": "What is the puppy called?", "evidence": ["D1:1"],
                    "category": 4}]}


def test_the_held_out_split_runs_from_a_full_file_and_skips_on_the_dev_file(
    tmp_path: Path,
) -> None:
    """As a user runs it: a subprocess with MEMORI_LOCOMO_PATH at a file of both splits asks
    only the held-out conversation and writes its own file; the dev file has none to ask."""
    import json
    import os
    import subprocess

    full = tmp_path / "locomo10.json"
    full.write_text(json.dumps([_locomo_item("conv-26", "My puppy is called Rex."),
                                _locomo_item("conv-44", "The puppy's name is Luna.")]))
    dev = tmp_path / "locomo-dev.json"
    dev.write_text(json.dumps([_locomo_item("conv-26", "My puppy is called Rex.")]))
    script = Path(bench_locomo.__file__)
    out = tmp_path / "out.json"

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MEMORI_LOCOMO_PATH": str(path), "MEMORI_HOME": str(tmp_path)}
        return subprocess.run(
            [sys.executable, str(script), "--split", "held-out", "--embedder", "hash",
             "--no-cache", "--variants", "hybrid", "--output", str(out)],
            env=env, capture_output=True, text=True, timeout=120, check=False)

    done = run(full)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["split"] == "held-out" and report["conversation_ids"] == ["conv-44"]
    assert report["questions"] == 1 and report["results"]["hybrid"]["recall"]["all"][
        "R@10"] == 100.0  # the held-out conversation's own answer, found
    out.unlink()
    skipped = run(dev)
    assert skipped.returncode == 0, skipped.stderr
    assert "holds no conversation of the held-out split" in skipped.stdout
    assert not out.exists()


def test_the_rerank_study_runs_as_a_user_runs_it(tmp_path: Path) -> None:
    """The study fits across the dev conversations and scores the held-out one; with fewer
    than two dev conversations there is nothing to fit across, and it says so."""
    import json
    import os
    import subprocess

    items = [_locomo_item("conv-26", "My puppy is called Rex."),
             _locomo_item("conv-30", "Our puppy is called Bolt."),
             _locomo_item("conv-44", "The puppy's name is Luna.")]
    script = Path(bench_locomo.__file__).with_name("study_locomo_rerank.py")
    out = tmp_path / "rerank.json"

    def run(data: list[dict[str, object]]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "locomo10.json"
        path.write_text(json.dumps(data))
        env = {**os.environ, "MEMORI_LOCOMO_PATH": str(path), "MEMORI_HOME": str(tmp_path)}
        return subprocess.run(
            [sys.executable, str(script), "--embedder", "hash", "--no-cache",
             "--candidates", "20", "--output", str(out)],
            env=env, capture_output=True, text=True, timeout=120, check=False)

    done = run(items)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["dev"] == ["conv-26", "conv-30"] and report["held_out"] == ["conv-44"]
    rows = report["results"]["20"]
    assert rows["as fused"] == [100.0, 100.0]  # each question's own fact turn, shown
    assert set(rows) == {"as fused", "length lean 0.05", "length lean 0.1",
                         "length lean 0.15", "fitted", "fitted without length"}
    assert all(0.0 <= v <= 100.0 for values in rows.values() for v in values)
    out.unlink()
    skipped = run(items[:1])
    assert skipped.returncode == 0, skipped.stderr
    assert "fewer than two dev conversations" in skipped.stdout and not out.exists()
