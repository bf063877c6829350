"""``TextIndex.scores`` takes every query term's postings in one pass of numpy; it gives
the very floats of the rule written term by term (``fts_rank`` ranks rows the SQL
path reads by that rule, and the two paths must agree bit for bit)."""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt

from memori.backends.sqlite.text_index import K1, MIN_IDF, B, TextIndex

WORDS = [f"w{i}" for i in range(60)] + ["花生", "过敏", "İstanbul", "peanut", "peanuts"]


def term_by_term(index: TextIndex, terms: list[str], alive: npt.NDArray[np.bool_]
                 ) -> npt.NDArray[np.float64] | None:
    n = alive.shape[0]
    living = int(np.count_nonzero(alive))
    if living == 0:
        return None
    lengths = index._lengths[:n]
    average = float(lengths[alive].sum()) / living or 1.0
    parts = []
    for term in dict.fromkeys(terms):
        postings = index._postings(term)
        if postings is None:
            continue
        slots, tfs = postings
        keep = alive[slots]
        slots, tfs = slots[keep], tfs[keep]
        if slots.shape[0] == 0:
            continue
        hits = slots.shape[0]
        idf = max(math.log((living - hits + 0.5) / (hits + 0.5)), MIN_IDF)
        norm = K1 * (1.0 - B + B * lengths[slots] / average)
        parts.append((slots, idf * tfs * (K1 + 1.0) / (tfs + norm)))
    if not parts:
        return None
    slots = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    return np.bincount(slots, weights=weights, minlength=n).astype(np.float64, copy=False)


def test_one_pass_gives_the_floats_of_term_by_term() -> None:
    rng = random.Random(7)
    for _ in range(60):
        index = TextIndex()
        rows = rng.randint(1, 400)
        for slot in range(rows):
            index.add(slot, " ".join(rng.choices(WORDS, k=rng.randint(1, 30))))
        for _ in range(8):
            share = rng.choice([0.8, 1.0])  # all alive: no filtering
            alive = np.array([rng.random() < share for _ in range(rows)], dtype=np.bool_)
            terms = rng.choices([*WORDS, "absent", "missing"], k=rng.randint(1, 40))
            got, want = index.scores(terms, alive), term_by_term(index, terms, alive)
            if want is None:
                assert got is None
            else:
                assert got is not None and got.tobytes() == want.tobytes()
            # rows added between searches join the postings read next time
            index.add(rows, " ".join(rng.choices(WORDS, k=5)))
            rows += 1


def test_no_living_match_is_none() -> None:
    index = TextIndex()
    index.add(0, "peanut allergy")
    index.add(1, "river walk")
    assert index.scores(["peanut"], np.array([False, True])) is None
    assert index.scores(["absent"], np.array([True, True])) is None
    assert index.scores(["peanut"], np.array([False, False])) is None
    found = index.scores(["peanut", "walk"], np.array([True, True]))
    assert found is not None and found[0] > 0 and found[1] > 0
