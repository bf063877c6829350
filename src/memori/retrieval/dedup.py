"""Collapse candidates that say the same thing (a memory and the turn it repeats)."""

from __future__ import annotations

from collections.abc import Iterable

from memori.core import Memory
from memori.core.text_memo import memo_short_texts
from memori.retrieval.candidates import Candidate


@memo_short_texts(4096)
def normalised(text: str) -> str:
    """Casefolded text with runs of whitespace made one space (short texts remembered:
    the same candidates come back call after call)."""
    return " ".join(text.casefold().split())


def without_duplicates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per normalised content, scored as the best of them.

    A memory stands for the turns it repeats (it carries the kind and whether
    it is still current); among equals the best scored is kept. Empty contents
    (a tool-call turn) are never merged with one another.
    """
    best: dict[str, Candidate] = {}
    kept: list[Candidate] = []
    for cand in candidates:
        text = normalised(cand.item.content)
        if not text:
            kept.append(cand)
            continue
        other = best.get(text)
        best[text] = cand if other is None else _merged(cand, other)
    return kept + list(best.values())


def _merged(a: Candidate, b: Candidate) -> Candidate:
    a_mem, b_mem = isinstance(a.item, Memory), isinstance(b.item, Memory)
    if a_mem != b_mem:
        keep, other = (a, b) if a_mem else (b, a)
    else:
        keep, other = (a, b) if a.score >= b.score else (b, a)
    lent = max(a.lent, b.lent)
    if other.score > keep.score:
        signals = {**other.signals, **keep.signals}
        return Candidate(keep.item, other.score, signals, lent)
    keep.lent = lent
    return keep
