"""Study (measured, not shipped): does reordering the fused hits lift LoCoMo recall at the
LLM path, and does what lifts it hold away from the conversations it was fitted on?

Each question is asked once per search depth (``--candidates``: hits each of the four
searches returns; the default retriever asks 20), keeping the 40 best fused hits with
their signals. Then, at the LLM path as ``bench_locomo.py --off-topic`` scores it (the
first 15 hits, the block showing at most 10, recall of the gold turns it shows):

- ``as fused``: the retriever's own order;
- ``length lean b``: the best ``RERANK_DEPTH`` hits reordered by score + b x ln(1 +
  tokens), a prior that longer turns hold the facts;
- ``fitted``: a logistic model over 17 features of each hit (its score and rank, its
  signals, whether it ends with "?", its length, whether the block leaves it out),
  fitted on the dev split: on dev, each conversation scored by a model fitted on the
  other four (leave one conversation out); on the held-out conversations (when the file
  has them), by the model fitted on all five; ``fitted without length`` drops the length
  feature.

Run: ``python benchmarks/study_locomo_rerank.py [--embedder local|hash] [--no-cache]``.
Reads the file ``bench_locomo.py`` reads (``MEMORI_LOCOMO_PATH``; a full
``locomo10.json`` adds the held-out column). Prints a table and writes
``benchmarks/results/locomo_rerank.json``. docs/benchmarks.md says why none of it is the
default.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS_DIR, machine_info, print_table, write_result
from bench_locomo import (
    DEFAULT_BUDGET,
    LLM_LIMIT,
    Conversation,
    data_path,
    evidence_key,
    evidence_of,
    gold_of,
    ingest,
    load,
    make_embedder,
    of_split,
)

from memori import Memori
from memori.core import Hit, Scope
from memori.llm.context import build_block
from memori.llm.engine import recall_depth
from memori.llm.filler import says_nothing
from memori.retrieval import HybridRetriever, count_tokens

KEPT = 40
"""Fused hits kept per question (the reorderings read the best ``RERANK_DEPTH``)."""
RERANK_DEPTH = 20
LEANS = (0.05, 0.1, 0.15)
SIGNALS = ("turn_text", "turn_vector", "cosine", "overlap", "relevance", "context",
           "recency", "when")
N_FEATURES = 3 + len(SIGNALS) + 3 + 3
LENGTH = N_FEATURES - 2
"""The length feature's index in :func:`features`."""


@dataclass
class Asked:
    conversation: str
    text: str
    gold: frozenset[str]
    hits: list[Hit]


class _Deep(HybridRetriever):
    """The default retriever, each search asking ``candidates`` hits whatever the limit."""

    def depth(self, limit: int) -> int:
        return self.candidates


def ask_all(mem: Memori, conversations: Sequence[Conversation], candidates: int) -> list[Asked]:
    retriever = _Deep(embedder=mem.embedder, candidates=candidates)
    return [Asked(c.sample_id, q.text, gold_of(q),
                  retriever.retrieve(mem.store, Scope(c.sample_id), q.text, limit=KEPT))
            for c in conversations for q in c.questions if q.evidence]


def shown_recall(asked: Sequence[Asked], order: Callable[[Asked], list[Hit]] | None = None
                 ) -> float:
    """Recall (%) of the gold turns among those the block shows, hits in ``order``."""
    total = 0.0
    for a in asked:
        hits = order(a) if order else a.hits
        block = build_block(hits[:recall_depth(LLM_LIMIT)], [], budget=DEFAULT_BUDGET,
                            exclude=[a.text], max_hits=LLM_LIMIT)
        shown = set(evidence_of(list(block.shown) if block else []))
        total += len(a.gold & shown) / len(a.gold)
    return round(100.0 * total / max(len(asked), 1), 2)


def features(rank: int, hit: Hit) -> list[float]:
    s = hit.signals
    text = hit.item.content
    return [hit.score, 1.0 / (rank + 1), math.log1p(rank),
            *(float(s.get(k, 0.0)) for k in SIGNALS),
            *(float(k in s) for k in ("turn_text", "turn_vector", "context")),
            float(text.rstrip().endswith("?")), math.log1p(count_tokens(text)),
            float(says_nothing(hit.item))]


def lean(b: float) -> Callable[[Asked], list[Hit]]:
    def order(a: Asked) -> list[Hit]:
        head = sorted(a.hits[:RERANK_DEPTH],
                      key=lambda h: -(h.score + b * math.log1p(count_tokens(h.content))))
        return head + a.hits[RERANK_DEPTH:]
    return order


Model = Callable[[np.ndarray], np.ndarray]


def fit(asked: Sequence[Asked], drop: Sequence[int] = (), steps: int = 300) -> Model:
    """A logistic model of "this hit is a gold turn", by gradient descent on standardised
    features (an L2 penalty of one), over the best ``RERANK_DEPTH`` hits of each question."""
    keep = [i for i in range(N_FEATURES) if i not in drop]
    rows, labels = [], []
    for a in asked:
        for rank, h in enumerate(a.hits[:RERANK_DEPTH]):
            rows.append(features(rank, h))
            labels.append(float(_key(h) in a.gold))
    x, y = np.array(rows)[:, keep], np.array(labels)
    mean, spread = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / spread
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) + w) / len(y)
        b -= 0.5 * float((p - y).mean())
    return lambda f: ((f[:, keep] - mean) / spread) @ w + b


def by_model(model: Model) -> Callable[[Asked], list[Hit]]:
    def order(a: Asked) -> list[Hit]:
        head = a.hits[:RERANK_DEPTH]
        if not head:
            return []
        scores = model(np.array([features(r, h) for r, h in enumerate(head)]))
        return [head[i] for i in np.argsort(-scores, kind="stable")] + a.hits[RERANK_DEPTH:]
    return order


def fitted(dev: Sequence[Asked], held: Sequence[Asked], drop: Sequence[int] = ()
           ) -> tuple[float, float | None]:
    """Dev recall, each conversation by a model fitted on the others; held-out recall by
    the model fitted on all of dev."""
    total = 0.0
    for name in sorted({a.conversation for a in dev}):
        test = [a for a in dev if a.conversation == name]
        train = [a for a in dev if a.conversation != name]
        total += shown_recall(test, by_model(fit(train, drop))) * len(test)
    return (round(total / len(dev), 2),
            shown_recall(held, by_model(fit(dev, drop))) if held else None)


def _key(hit: Hit) -> str:
    return evidence_key(hit.item.entity_id, str(hit.item.metadata.get("dia_id")))


def study(mem: Memori, dev: Sequence[Conversation], held: Sequence[Conversation],
          candidates: int) -> dict[str, Any]:
    d, h = ask_all(mem, dev, candidates), ask_all(mem, held, candidates)
    rows: dict[str, Any] = {"as fused": [shown_recall(d), shown_recall(h) if h else None]}
    for b in LEANS:
        rows[f"length lean {b:g}"] = [shown_recall(d, lean(b)),
                                      shown_recall(h, lean(b)) if h else None]
    rows["fitted"] = list(fitted(d, h))
    rows["fitted without length"] = list(fitted(d, h, drop=[LENGTH]))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=("local", "hash"), default="local")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--candidates", default="20,40",
                        help="hits each search returns, comma-separated (default 20,40)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "locomo_rerank.json")
    args = parser.parse_args(argv)
    path = data_path()
    if not path.is_file():
        print(f"SKIP: LoCoMo data not found at {path}")
        return 0
    conversations = load(path)
    dev, held = of_split(conversations, "dev"), of_split(conversations, "held-out")
    if len(dev) < 2:
        print(f"SKIP: {path.name} holds fewer than two dev conversations to fit across")
        return 0
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="memori-rerank-") as tmp:
        embedder = make_embedder(args.embedder, cache=not args.no_cache)
        with Memori(f"sqlite:///{Path(tmp) / 'locomo.db'}", embedder=embedder,
                    extractor=None) as mem:
            ingest(mem, [*dev, *held])
            for c in (int(v) for v in args.candidates.split(",")):
                results[str(c)] = study(mem, dev, held, c)
    table = [[name, c, *(v if v is not None else "-" for v in values)]
             for c, rows in results.items() for name, values in rows.items()]
    print(f"LoCoMo {path.name}: recall (%) of what the block shows (10 hits), dev / held out")
    print_table(["order", "candidates", "dev", "held out"], table)
    write_result(args.output, {
        "machine": machine_info(), "embedder": embedder.name, "data": path.name,
        "dev": [c.sample_id for c in dev], "held_out": [c.sample_id for c in held],
        "rerank_depth": RERANK_DEPTH, "results": results,
    })
    print(f"written to {args.output.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
