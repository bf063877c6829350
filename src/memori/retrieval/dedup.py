"""Collapse candidates that say the same thing (a memory and the turn it repeats)."""

from __future__ import annotations

from collections.abc import Iterable

from memori.core import Memory
from memori.retrieval.candidates import Candidate


def normalised(text: str) -> str:
    """Casefolded text with runs of whitespace made one space."""
    return " ".join(text.casefold().split())


def without_duplicates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per normalised content: the best scored, a memory on a tie.

    Empty contents (a tool-call turn) are never merged with one another.
    """
    best: dict[str, Candidate] = {}
    kept: list[Candidate] = []
    for cand in candidates:
        text = normalised(cand.item.content)
        if not text:
            kept.append(cand)
            continue
        other = best.get(text)
        if other is None or _better(cand, other):
            best[text] = cand
    return kept + list(best.values())


def _better(a: Candidate, b: Candidate) -> bool:
    if a.score != b.score:
        return a.score > b.score
    return isinstance(a.item, Memory) and not isinstance(b.item, Memory)
