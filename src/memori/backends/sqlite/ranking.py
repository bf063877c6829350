"""Ordering the rows of an in-process set: best score first, then older first, then by id.

Sorting is done in numpy on (score, time); ids (strings) only break the ties that
remain, in Python, among the few rows that share both with the ``k``-th row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
SlotArray = npt.NDArray[np.int64]


def best_slots(
    slots: SlotArray, scores: FloatArray | None, created: FloatArray, k: int,
    id_of: Callable[[int], str],
) -> list[int]:
    """The ``k`` first of ``slots`` by score (highest first; None: no score), then
    ``created`` (oldest first), then id; ``scores`` is parallel to ``slots``."""
    if k <= 0 or slots.size == 0:
        return []
    times = created[slots]
    keys = (times,) if scores is None else (times, -scores)
    order = np.lexsort(keys)
    if order.size > k:
        # widen the cut to every row tied with the k-th on (score, time)
        last = order[k - 1]
        same = times[order[k:]] == times[last]
        if scores is not None:
            same &= scores[order[k:]] == scores[last]
        extra = int(np.argmin(same)) if not same.all() else int(same.size)
        order = order[: k + extra]
    chosen: list[int] = slots[order].tolist()
    if _tied(times[order], None if scores is None else scores[order]):
        score_of = dict(zip(chosen, (scores[order] if scores is not None
                                     else np.zeros(len(chosen))).tolist(), strict=True))
        chosen.sort(key=lambda s: (-score_of[s], float(created[s]), id_of(s)))
    return chosen[:k]


def _tied(times: FloatArray, scores: FloatArray | None) -> bool:
    """Whether two neighbours of an ordered run share their time (and score)."""
    if times.size < 2:
        return False
    same = times[1:] == times[:-1]
    if scores is not None:
        same &= scores[1:] == scores[:-1]
    return bool(same.any())


def latest_slots(
    slots: SlotArray, created: FloatArray, k: int, id_of: Callable[[int], str],
) -> list[int]:
    """The ``k`` latest of ``slots`` by (``created``, id), oldest of them first."""
    if k <= 0 or slots.size == 0:
        return []
    times = created[slots]
    order = np.argsort(times, kind="stable")
    if order.size > k:
        first = order[-k]
        same = times[order[: order.size - k]] == times[first]
        extra = int(np.argmin(same[::-1])) if not same.all() else int(same.size)
        order = order[order.size - k - extra:]
    chosen: list[int] = slots[order].tolist()
    if _tied(times[order], None):
        chosen.sort(key=lambda s: (float(created[s]), id_of(s)))
    return chosen[-k:]
