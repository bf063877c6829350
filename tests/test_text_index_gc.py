"""The SQLite store's in-process text index adds almost nothing the collector tracks.

A full collection visits every tracked object and pauses every thread while it does;
with 10,000 memories cached the postings (one per distinct word) used to add about
30,000 lists and objects to each one. They are numpy arrays and bytearrays now.
"""

from __future__ import annotations

import gc

import numpy as np

from memori.backends.sqlite.text_index import TextIndex


def tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_postings_of_many_distinct_words_are_not_tracked_by_the_collector() -> None:
    index = TextIndex()
    texts = [f"note {i}: the user plans trip{i} with friend{i} 旅行{i}" for i in range(3000)]
    before = tracked()
    for slot, text in enumerate(texts):
        index.add(slot, text)
    alive = np.ones(len(texts), dtype=bool)
    for i in range(0, 3000, 300):  # queries turn tails into arrays
        index.scores(["user", f"trip{i}", "friend7"], alive)
    grown = tracked() - before
    assert grown < 500, f"{grown} objects tracked by the collector for 3,000 texts"


def test_scores_are_the_same_whether_postings_were_read_before_or_not() -> None:
    first, second = TextIndex(), TextIndex()
    texts = [f"the user likes {w} and {w}s" for w in ("tea", "coffee", "tea", "cake")] * 5
    alive = np.ones(len(texts), dtype=bool)
    for slot, text in enumerate(texts):
        first.add(slot, text)
        second.add(slot, text)
        if slot % 3 == 0:  # reads in between: arrays and tails mixed
            second.scores(["tea", "user"], alive[: slot + 1])
    a = first.scores(["tea", "user", "cake"], alive)
    b = second.scores(["tea", "user", "cake"], alive)
    assert a is not None and b is not None and np.array_equal(a, b)
    assert a[0] > a[1] > 0  # "tea" is in the first text only; "user" in every one
