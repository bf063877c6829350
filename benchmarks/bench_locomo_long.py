"""LoCoMo questions inside longer messages: what a long user message costs recall.

The LLM path recalls with the user's message (its last 2,000 characters), and a real
message is often more than its question. This asks each LoCoMo dev question as the
LLM path would (15 hits recalled, the block's first 10 that say something, the
relevance floor), three ways:
alone; led by ``--filler`` words (35 and 100) of another conversation's turns
("question last"); and followed by them ("question first"). The filler for the j-th
question of a conversation starts at the j-th turn of the next conversation of the
split, so every run asks the same messages. Reports recall@10 and the share of calls
that would inject nothing, per way, with the default retriever (whose text searches
and vector read a long message's first 10 and last 10 words, ``memori.retrieval.focus``),
with the previous default (the text searches reading the first 12 and last 20 words,
the vector 10 and 12) and with one reading the whole message.

Run: ``python benchmarks/bench_locomo_long.py [--filler 35,100] [--embedder local|hash]
[--split all|dev|held-out]``.
Reads the data as ``bench_locomo.py`` does (skips with a message when it is absent);
writes ``benchmarks/results/locomo_long.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, machine_info, print_table, write_result
from bench_locomo import (
    SPLITS,
    Conversation,
    Question,
    Run,
    data_path,
    evidence_of,
    ingest,
    injected,
    make_embedder,
    score,
    split_or_skip,
    split_suffix,
)

from memori import Memori
from memori.retrieval import HybridRetriever

WAYS = ("alone", "question last", "question first")
READING = {"default (text and vector 10 + 10 words)": {},
           "text 12 + 20 words, vector 10 + 12 (previous)": {"focus_words": (12, 20),
                                                            "vector_words": (10, 12)},
           "whole message": {"focus_words": None, "vector_words": None}}
"""The retrievers compared: the default, the previous default (whose text searches read
more words than its vector), and one whose searches read every word."""


def filler_words(conversations: Sequence[Conversation], at: int, index: int,
                 words: int) -> str:
    """``words`` words of the turns of the conversation after ``at``, from its
    ``index``-th turn on (cyclic)."""
    other = conversations[(at + 1) % len(conversations)]
    turns = [t.text for s in other.sessions for t in s.turns]
    out: list[str] = []
    k = index % len(turns)
    while len(out) < words:
        out.extend(turns[k].split())
        k = (k + 1) % len(turns)
    return " ".join(out[:words])


def message(way: str, question: str, filler: str) -> str:
    if way == "question last":
        return f"{filler.rstrip('.')}. {question}"
    if way == "question first":
        return f"{question} {filler}"
    return question


def ask_all(mem: Memori, conversations: Sequence[Conversation], words: int
            ) -> dict[str, dict[str, Any]]:
    """Recall@10 and calls injecting nothing, per way of asking."""
    out: dict[str, dict[str, Any]] = {}
    for way in WAYS:
        run, asked, empty = Run(way), [], 0
        for at, conv in enumerate(conversations):
            for j, q in enumerate(conv.questions):
                text = message(way, q.text, filler_words(conversations, at, j, words))
                hits, tokens = injected(mem, text, conv.sample_id)
                run.ranked.append(evidence_of(hits))
                asked.append(q)
                empty += tokens == 0
        out[way] = {"recall": score(run, asked),
                    "nothing_injected_pct": round(100.0 * empty / max(len(asked), 1), 1)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filler", default="35,100",
                        help="words around the question (comma-separated for several)")
    parser.add_argument("--embedder", choices=("local", "hash"), default="local")
    parser.add_argument("--split", choices=SPLITS, default="all",
                        help="the conversations asked (see bench_locomo.py); other than "
                             "the dev split's are written with _heldout or _full")
    parser.add_argument("--output", type=Path, default=None,
                        help="default results/locomo_long.json")
    args = parser.parse_args(argv)
    try:
        fillers = [int(w) for w in args.filler.split(",")]
    except ValueError:
        parser.error("--filler takes whole numbers, comma-separated")
    if not fillers or min(fillers) < 1:
        parser.error("--filler must be at least 1")
    path = data_path()
    conversations = split_or_skip(path, args.split)
    if not conversations:
        return 0
    embedder = make_embedder(args.embedder, cache=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="memori-locomo-long-") as tmp:
        mem = Memori(f"sqlite:///{Path(tmp) / 'locomo.db'}", embedder=embedder,
                     extractor=None)
        try:
            ingest(mem, conversations)
            for words in fillers:
                for reading, options in READING.items():
                    mem.retriever = HybridRetriever(embedder=mem.embedder, **options)
                    results[f"{words} words, {reading}"] = ask_all(mem, conversations, words)
        finally:
            mem.close()
    questions: list[Question] = [q for c in conversations for q in c.questions]
    print(f"LoCoMo {path.name}: {len(questions)} questions, each alone and inside "
          f"{args.filler} words of another conversation; the LLM path's 10 hits and floor")
    print_table(["filler, the searches read", "way", "R@10", "nothing injected %"],
                [[run, way, r["recall"]["all"]["R@10"], r["nothing_injected_pct"]]
                 for run, ways in results.items() for way, r in ways.items()])
    output = args.output or RESULTS_DIR / (
        "locomo_long" + split_suffix(c.sample_id for c in conversations) + ".json")
    write_result(output, {
        "benchmark": "locomo-long-messages", "data": path.name, "split": args.split,
        "conversation_ids": [c.sample_id for c in conversations],
        "filler_words": fillers, "embedder": embedder.name, "results": results,
        "machine": machine_info(),
    })
    print(f"written to {output.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
