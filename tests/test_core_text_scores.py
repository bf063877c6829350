"""memori.core.scores' Python scorers agree with the conformance suite's own oracle.

The example plugin ranks with core's ``words``, ``bm25_relevance``, ``cosine`` and
``rrf_fuse``; the reference store keeps its independent copy in
``memori.conformance.scoring``. The two must give the same scores.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

from memori.conformance import scoring
from memori.core.scores import (
    bm25_relevance,
    cosine,
    cosine_score,
    query_words,
    relevance_score,
    words,
)

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugin-jsonl" / "src"


def test_core_scores_equal_the_reference_oracle() -> None:
    rng = random.Random(7)
    vocab = ["cat", "Dog", "sky", "blue", "run", "über", "naïve", "x1", "我对花生过敏",
             "花", "猫が好き", "花生x"]
    docs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9))) for _ in range(40)]
    for _ in range(20):
        query = " ".join(rng.sample(vocab, 3)) + "?!"
        assert words(query) == scoring.words(query)
        assert query_words(query) == scoring.query_words(query)
        mine = [relevance_score(s) for s in bm25_relevance(query_words(query),
                                                           [words(d) for d in docs])]
        assert mine == scoring.bm25(scoring.query_words(query),
                                    [scoring.words(d) for d in docs])
        a = [rng.uniform(-1, 1) for _ in range(8)]
        b = [rng.uniform(-1, 1) for _ in range(8)]
        assert cosine_score(cosine(a, b)) == scoring.vector_score(a, b)
    assert cosine_score(cosine([0.0] * 3, [1.0, 2.0, 3.0])) == scoring.vector_score(
        [0.0] * 3, [1.0, 2.0, 3.0])


def test_the_example_plugin_ranks_with_core_not_the_suite() -> None:
    for file in sorted(PLUGIN.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("memori.conformance"), (
                    f"{file.name} imports the conformance suite's oracle")
