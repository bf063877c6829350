"""BM25 over the texts of an in-process item set, in numpy.

Words are cut as the FTS5 tables of revision 0002 cut them (Unicode ``\\w+`` runs,
case-folded, accents kept; CJK runs into characters and pairs as the store writes
them there, see ``fts.py``) and a query matches the rows holding any of its words.
Each row is scored by the formula of SQLite's ``bm25()`` (k1 = 1.2, b = 0.75,
idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6), with one difference: N, n and
the average length are the entity's own (its living rows of one kind), where FTS5
counts the whole table, every entity's rows. So no tenant's writes move another
tenant's scores.

Postings only grow: a row that dies keeps its postings until the owning set is
rebuilt, and the set's ``alive`` array says which slots count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memori.core.cjk import index_tokens

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6
ENTITY_TOKENS = 1
"""Tokens of a row's FTS5 entity column: bm25() weighs that column 0 but still counts
it in the row's length (and the average), so a row is that much longer here too."""
_WORD = re.compile(r"\w+", re.UNICODE)

FloatArray = npt.NDArray[np.float64]
SlotArray = npt.NDArray[np.int64]


def term_counts(text: str) -> Counter[str]:
    """How often each word occurs in ``text`` (the FTS5 tokenizer's words)."""
    return Counter(index_tokens(word.lower() for word in _WORD.findall(text)))


class _Postings:
    """One word's postings: slots and term frequencies in arrays, plus the ones added
    since the arrays were last read (appending to a Python list is cheap; numpy
    arrays are built when a query needs them)."""

    __slots__ = ("slots", "tail_slots", "tail_tfs", "tfs")

    def __init__(self) -> None:
        self.slots: SlotArray = _NO_SLOTS
        self.tfs: FloatArray = _NO_TFS
        self.tail_slots: list[int] = []
        self.tail_tfs: list[int] = []

    def append(self, slot: int, tf: int) -> None:
        self.tail_slots.append(slot)
        self.tail_tfs.append(tf)

    def arrays(self) -> tuple[SlotArray, FloatArray]:
        if self.tail_slots:
            new_slots = np.array(self.tail_slots, dtype=np.int64)
            new_tfs = np.array(self.tail_tfs, dtype=np.float64)
            if self.slots.size:
                new_slots = np.concatenate([self.slots, new_slots])
                new_tfs = np.concatenate([self.tfs, new_tfs])
            self.slots, self.tfs = new_slots, new_tfs
            self.tail_slots, self.tail_tfs = [], []
        return self.slots, self.tfs


_NO_SLOTS: SlotArray = np.zeros(0, dtype=np.int64)
_NO_TFS: FloatArray = np.zeros(0, dtype=np.float64)


class TextIndex:
    """Postings (slot, term frequency) per word and each slot's length in words."""

    def __init__(self, capacity: int = 16) -> None:
        self._postings: dict[str, _Postings] = {}
        self._lengths = np.zeros(max(capacity, 16), dtype=np.float64)

    def add(self, slot: int, text: str) -> None:
        """Index ``text`` as the content of ``slot`` (a slot is written once)."""
        counts = term_counts(text)
        if slot >= self._lengths.shape[0]:
            grown = np.zeros(max(slot + 1, self._lengths.shape[0] * 2), dtype=np.float64)
            grown[: self._lengths.shape[0]] = self._lengths
            self._lengths = grown
        self._lengths[slot] = sum(counts.values()) + ENTITY_TOKENS
        for term, tf in counts.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
            postings.append(slot, tf)

    def scores(self, terms: Sequence[str], alive: npt.NDArray[np.bool_]) -> FloatArray | None:
        """BM25 of each slot of ``alive`` (its length) for the query ``terms``; 0 where
        no term occurs. None when no living row holds any of the terms."""
        n = alive.shape[0]
        living = int(np.count_nonzero(alive))
        if living == 0:
            return None
        lengths = self._lengths[:n]
        average = float(lengths[alive].sum()) / living or 1.0
        parts: list[tuple[SlotArray, FloatArray]] = []
        for term in dict.fromkeys(terms):
            postings = self._postings.get(term)
            if postings is None:
                continue
            slots, tfs = postings.arrays()
            keep = alive[slots]
            slots, tfs = slots[keep], tfs[keep]
            hits = slots.shape[0]
            if hits == 0:
                continue
            idf = max(math.log((living - hits + 0.5) / (hits + 0.5)), MIN_IDF)
            norm = K1 * (1.0 - B + B * lengths[slots] / average)
            parts.append((slots, idf * tfs * (K1 + 1.0) / (tfs + norm)))
        if not parts:
            return None
        if len(parts) == 1:
            slots, weights = parts[0]
        else:
            slots = np.concatenate([p[0] for p in parts])
            weights = np.concatenate([p[1] for p in parts])
        return np.bincount(slots, weights=weights, minlength=n).astype(np.float64, copy=False)
