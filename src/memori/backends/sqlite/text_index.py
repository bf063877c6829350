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
rebuilt, and the set's ``alive`` array says which slots count. They are held in
numpy arrays and bytearrays, which the garbage collector does not track.
"""

from __future__ import annotations

import math
import re
import struct
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
WORD = re.compile(r"\w+", re.UNICODE)
"""A word as the FTS5 tables of revision 0002 cut words (before CJK runs are cut)."""
_SLOT = struct.Struct("=q")  # native order: read back by numpy on this machine
_TF = struct.Struct("=d")

FloatArray = npt.NDArray[np.float64]
SlotArray = npt.NDArray[np.int64]


def plain_words(text: str) -> list[str]:
    """The lower-cased ``\\w+`` words of ``text`` in order: its index words when it holds
    no CJK (``term_counts`` cuts CJK runs further)."""
    return [word.lower() for word in WORD.findall(text)]


def term_counts(text: str) -> Counter[str]:
    """How often each word occurs in ``text`` (the FTS5 tokenizer's words)."""
    return Counter(index_tokens(plain_words(text)))


class TextIndex:
    """Postings (slot, term frequency) per word and each slot's length in words.

    A word's postings are two numpy arrays, plus the ones added since they were last
    read packed in two ``bytearray`` tails (appending is cheap; the arrays are built
    when a query needs them). None of these is an object the garbage collector tracks
    (lists and ``array.array`` are): an entity's 10,000 memories would otherwise add
    tens of thousands of objects to every full collection, which pauses every thread
    of the application.
    """

    def __init__(self, capacity: int = 16) -> None:
        self._arrays: dict[str, tuple[SlotArray, FloatArray]] = {}
        self._tail_slots: dict[str, bytearray] = {}  # int64 slots, packed
        self._tail_tfs: dict[str, bytearray] = {}  # float64 term frequencies, packed
        self._lengths = np.zeros(max(capacity, 16), dtype=np.float64)

    def add(self, slot: int, text: str) -> None:
        """Index ``text`` as the content of ``slot`` (a slot is written once)."""
        counts = term_counts(text)
        if slot >= self._lengths.shape[0]:
            grown = np.zeros(max(slot + 1, self._lengths.shape[0] * 2), dtype=np.float64)
            grown[: self._lengths.shape[0]] = self._lengths
            self._lengths = grown
        self._lengths[slot] = sum(counts.values()) + ENTITY_TOKENS
        tail_slots, tail_tfs = self._tail_slots, self._tail_tfs
        for term, tf in counts.items():
            slots = tail_slots.get(term)
            if slots is None:
                slots = tail_slots[term] = bytearray()
                tail_tfs[term] = bytearray()
            slots += _SLOT.pack(slot)
            tail_tfs[term] += _TF.pack(tf)

    def _postings(self, term: str) -> tuple[SlotArray, FloatArray] | None:
        """The word's slots and term frequencies (None: no row holds it)."""
        tail = self._tail_slots.pop(term, None)
        if tail is None:
            return self._arrays.get(term)
        new_slots = np.frombuffer(tail, dtype=np.int64).copy()  # owns its data
        new_tfs = np.frombuffer(self._tail_tfs.pop(term), dtype=np.float64).copy()
        held = self._arrays.get(term)
        if held is not None:
            new_slots = np.concatenate([held[0], new_slots])
            new_tfs = np.concatenate([held[1], new_tfs])
        found = self._arrays[term] = (new_slots, new_tfs)
        return found

    def scores(self, terms: Sequence[str], alive: npt.NDArray[np.bool_]) -> FloatArray | None:
        """BM25 of each slot of ``alive`` (its length) for the query ``terms``; 0 where
        no term occurs. None when no living row holds any of the terms."""
        n = alive.shape[0]
        living = int(np.count_nonzero(alive))
        if living == 0:
            return None
        lengths = self._lengths[:n]
        average = float(lengths[alive].sum()) / living or 1.0
        found = [p for p in map(self._postings, dict.fromkeys(terms)) if p is not None]
        if not found:
            return None
        # every term's postings in one array each (term order kept: a row's sum adds
        # the terms in the order a term-by-term loop adds them, so the same floats)
        if len(found) == 1:
            slots, tfs = found[0]
            term_of = np.zeros(slots.shape[0], dtype=np.intp)
        else:
            slots = np.concatenate([p[0] for p in found])
            tfs = np.concatenate([p[1] for p in found])
            term_of = np.repeat(np.arange(len(found)), [p[0].shape[0] for p in found])
        if living < n:  # else every slot is alive
            keep = alive[slots]
            slots, tfs, term_of = slots[keep], tfs[keep], term_of[keep]
            if slots.shape[0] == 0:
                return None
        return bm25(slots, tfs, term_of, len(found), lengths[slots], average, living, n)


def bm25(rows: SlotArray, tfs: FloatArray, term_of: SlotArray, terms: int,
         row_lengths: FloatArray, average: float, living: int, size: int) -> FloatArray:
    """Each of ``size`` rows' BM25 (0 where no term occurs) from its postings: posting
    ``j`` says row ``rows[j]`` holds query term ``term_of[j]`` (of ``terms``) ``tfs[j]``
    times, the row being ``row_lengths[j]`` long, of ``living`` rows ``average`` long.
    A row's sum adds the terms in the order of the postings, which is term order for
    both callers (this index and ``fts_rank``), so both give the same floats."""
    hits = np.bincount(term_of, minlength=terms).tolist()
    idf = np.array([max(math.log((living - h + 0.5) / (h + 0.5)), MIN_IDF) if h else 0.0
                    for h in hits], dtype=np.float64)
    norm = K1 * (1.0 - B + B * row_lengths / average)
    weights = idf[term_of] * tfs * (K1 + 1.0) / (tfs + norm)
    return np.bincount(rows, weights=weights, minlength=size).astype(np.float64, copy=False)
