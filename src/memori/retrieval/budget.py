"""Choosing what goes into a context of limited size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memori.core import Hit
from memori.retrieval.candidates import Candidate, to_hit
from memori.retrieval.tokens import count_tokens


def select_within_budget(hits: Sequence[Hit], limit: int, token_budget: int | None) -> list[Hit]:
    """The best ``limit`` hits whose contents fit in ``token_budget`` tokens together.

    A hit that does not fit is skipped and smaller ones after it may still
    enter, so a long turn does not crowd out the rest.
    """
    chosen: list[Hit] = []
    used = 0
    for hit in hits:
        if len(chosen) >= limit:
            break
        if token_budget is not None:  # counted only when there is a budget to keep
            cost = count_tokens(hit.content)
            if used + cost > token_budget:
                continue
            used += cost
        chosen.append(hit)
    return chosen


def best_within_budget(
    ordered: Iterable[Candidate], scale: float, limit: int, token_budget: int | None,
) -> list[Hit]:
    """:func:`select_within_budget` over candidates already in ranked order, making
    hits of the chosen ones only."""
    chosen: list[Hit] = []
    used = 0
    for cand in ordered:
        if len(chosen) >= limit:
            break
        if token_budget is not None:  # counted only when there is a budget to keep
            cost = count_tokens(cand.item.content)
            if used + cost > token_budget:
                continue
            used += cost
        chosen.append(to_hit(cand, scale))
    return chosen
