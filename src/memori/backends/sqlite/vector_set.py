"""One entity's vectors of one kind held in numpy arrays, ranked inside a scope.

Rows carry what the scope filters and the tie-break read: id, created_at,
process_id, session_id (turns), shared and superseded (memories). Vectors are kept
in float32 with their lengths, so a search is a matrix-vector product over the
rows the scope can see, turned into cosines exactly as the exact scan does. Rows
are kept grouped by audience (everyone's first, then per persona, superseded
apart, then per session), so a scope's rows are a few contiguous runs and only
those are multiplied; rows written since the last reorganisation are appended and
may add runs. Where SimSIMD is installed, a large scope is first scanned in int8
(see ``coarse``) and only the rows that can be among the nearest are multiplied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from memori.backends.sqlite import coarse
from memori.backends.sqlite.audience import NULL, AudienceColumns, BoolArray, Codes
from memori.backends.sqlite.ranking import best_slots
from memori.backends.sqlite.vectors import FLOAT32, cosines, row_dots, row_norms

GROWTH = 1.25
MAX_RUNS = 64
"""More runs of visible rows than this: multiply every row (and maybe reorganise)."""
DENSE_SPAN = 2
"""Visible rows filling at least half of the slots from the first to the last: one
product over those slots (see ``_dense_span``)."""
SUBSET_FRACTION = 0.25
"""Below this share of visible rows (in many runs), the visible rows are copied first."""

IntArray = npt.NDArray[np.int64]


class VectorRow(NamedTuple):
    """What the cache keeps of one turn or memory (``embedding`` None: not searchable)."""

    id: str
    created_at: float
    process_id: str | None
    session_id: str | None
    shared: bool
    superseded: bool
    embedding: bytes | None


RowTuple = tuple[str, float, "str | None", "str | None", bool, bool, "bytes | None"]
"""A VectorRow's fields in order (a scan's driver rows are used as they come)."""


def _dense_span(slots: IntArray) -> tuple[int, int] | None:
    """``[first, last + 1)`` of sorted ``slots`` when they fill at least ``1 / DENSE_SPAN``
    of it: one product over the whole span, the others' results dropped after, costs
    less than a product per run of consecutive slots (each call costs microseconds:
    turns rewritten by the pipeline leave a gap each, and 50 runs cost 0.2 ms)."""
    start, end = int(slots[0]), int(slots[-1]) + 1
    return (start, end) if end - start <= DENSE_SPAN * slots.size else None


def _runs(slots: IntArray) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of consecutive values in sorted ``slots``."""
    breaks = np.flatnonzero(np.diff(slots) != 1)
    starts = [int(slots[0]), *(slots[breaks + 1]).tolist()]
    ends = [*(slots[breaks] + 1).tolist(), int(slots[-1]) + 1]
    return list(zip(starts, ends, strict=True))


class VectorSet(AudienceColumns):
    """The searchable rows of one (kind, entity) at one version of the database.

    Callers hold ``lock`` while reading or changing it; ``version`` is the entity
    version (revision 0004) the contents match.
    """

    def __init__(self, dim: int, version: int, rows: Sequence[RowTuple] = ()) -> None:
        self.dim = dim
        self.nbytes = dim * FLOAT32.itemsize
        self.version = version
        self.lock = threading.Lock()
        self.processes = Codes()
        self.sessions = Codes()
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._n = 0
        self._changed = 0
        self._coarse = coarse.available()
        nbytes = self.nbytes
        usable = [r for r in rows if r[6] is not None and len(r[6]) == nbytes]
        if len({r[0] for r in usable}) != len(usable):
            usable = list({r[0]: r for r in usable}.values())
        self._allocate(len(usable) + max(16, len(usable) // 16))
        if usable:
            self._load(usable, grouped=True)

    def _allocate(self, capacity: int) -> None:
        self._matrix = np.empty((capacity, self.dim), dtype=FLOAT32)  # rows >= n never read
        self._norms = np.zeros(capacity, dtype=FLOAT32)
        if self._coarse:
            self._codes = np.zeros((capacity, self.dim), dtype=np.int8)
            self._scale_ratio = np.zeros(capacity, dtype=FLOAT32)
            self._l1_ratio = np.zeros(capacity, dtype=FLOAT32)
        self._allocate_audience(capacity)

    def _columns(self) -> list[npt.NDArray[Any]]:
        coarse_columns: list[npt.NDArray[Any]] = (
            [self._codes, self._scale_ratio, self._l1_ratio] if self._coarse else [])
        return [self._matrix, self._norms, *coarse_columns, *self._audience_columns()]

    def _used(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        """Rows allocated (at least ``len``: room for appends)."""
        return int(self._matrix.shape[0])

    def __len__(self) -> int:
        return len(self._rows)

    def _load(self, rows: Sequence[RowTuple], *, grouped: bool = False) -> None:
        """Append rows whose ids are not held yet (one vectorised pass).

        ``grouped``: store them in audience order (see ``_reorganise``), as a fresh set does.
        """
        start, end = self._n, self._n + len(rows)
        if end > self.capacity:
            previous = self._columns()
            self._allocate(max(end, int(self.capacity * GROWTH) + 16))
            for new, prev in zip(self._columns(), previous, strict=True):
                new[:start] = prev[:start]
        ids, created, processes, sessions, shared, superseded, blobs = zip(*rows, strict=True)
        process = np.array([self.processes.encode(p) for p in processes], dtype=np.int32)
        session = np.array([self.sessions.encode(s) for s in sessions], dtype=np.int32)
        times = np.array(created, dtype=np.float64)
        flags = np.array(shared, dtype=np.bool_), np.array(superseded, dtype=np.bool_)
        if grouped:
            order = _audience_order(process, session, *flags)
            ids = tuple(ids[i] for i in order.tolist())
            blobs = tuple(blobs[i] for i in order.tolist())
            times, process, session = times[order], process[order], session[order]
            flags = flags[0][order], flags[1][order]
        if start == 0 and self._n == 0:
            # a fresh set: the joined bytes become the matrix (filling newly allocated
            # memory page by page costs more than the whole rest of a build)
            slack = bytes((self.capacity - end) * self.nbytes)
            joined = bytearray().join([*blobs, slack])
            self._matrix = np.frombuffer(joined, dtype=FLOAT32).reshape(self.capacity, self.dim)
        else:
            block = np.frombuffer(b"".join(blobs), dtype=FLOAT32)
            self._matrix[start:end] = block.reshape(len(rows), self.dim)
        self._norms[start:end] = row_norms(self._matrix[start:end])
        if self._coarse:
            codes, scale_ratio, l1_ratio = coarse.quantize(self._matrix[start:end],
                                                           self._norms[start:end])
            self._codes[start:end] = codes
            self._scale_ratio[start:end], self._l1_ratio[start:end] = scale_ratio, l1_ratio
        self._created[start:end] = times
        self._alive[start:end] = True
        self._process[start:end] = process
        self._session[start:end] = session
        self._shared[start:end], self._superseded[start:end] = flags
        self._rows.update(zip(ids, range(start, end), strict=True))
        self._ids.extend(ids)
        self._n = end

    def upsert(self, rows: Iterable[RowTuple]) -> None:
        """Add or replace rows by id (the last of an id wins); no usable vector: removed."""
        latest = {row[0]: row for row in rows}
        unusable = [i for i, r in latest.items() if not _usable(r, self.nbytes)]
        replaced = [r for i, r in latest.items() if i in self._rows and _usable(r, self.nbytes)]
        new = [r for i, r in latest.items() if i not in self._rows and _usable(r, self.nbytes)]
        # a replaced row moves to the end, as a new one: its audience may have changed
        self.remove([r[0] for r in replaced] + unusable, reorganise=False)
        if replaced or new:
            self._load(replaced + new)
            self._changed += len(replaced) + len(new)
        self._maybe_compact()

    def remove(self, ids: Iterable[str], *, reorganise: bool = True) -> None:
        """Forget rows by id (unknown ids are ignored)."""
        for item_id in ids:
            slot = self._rows.pop(item_id, None)
            if slot is not None:
                self._alive[slot] = False
                self._changed += 1
        if reorganise:
            self._maybe_compact()

    def _maybe_compact(self) -> None:
        dead = self._n - len(self._rows)
        if dead >= 64 and dead * 4 >= self._n:
            self._reorganise()

    def _reorganise(self) -> None:
        """Drop dead slots and group rows by audience, persona, superseded and session."""
        alive = np.flatnonzero(self._alive[: self._n])
        order = alive[_audience_order(self._process[alive], self._session[alive],
                                      self._shared[alive], self._superseded[alive])]
        kept = [column[order] for column in self._columns()]
        self._ids = [self._ids[i] for i in order.tolist()]
        self._rows = dict(zip(self._ids, range(len(self._ids)), strict=True))
        self._n = len(self._ids)
        if self.capacity < self._n + 16:
            self._allocate(self._n + max(16, self._n // 16))
        for new, old in zip(self._columns(), kept, strict=True):
            new[: self._n] = old
        self._alive[self._n :] = False
        self._changed = 0

    # ranking

    def _dots(self, visible: IntArray, query: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        """``row . query`` for each visible slot, multiplying as few rows as it can."""
        span = _dense_span(visible)
        if span is not None:
            s, e = span
            whole = row_dots(self._matrix[s:e], query)
            return whole if e - s == visible.size else whole[visible - s]
        runs = _runs(visible)
        if len(runs) > MAX_RUNS and self._changed * 16 >= self._n:
            self._reorganise()
            return np.zeros(0)
        if len(runs) <= MAX_RUNS:
            parts = [row_dots(self._matrix[s:e], query) for s, e in runs]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        dots: npt.NDArray[Any]
        if visible.size < SUBSET_FRACTION * self._n:
            dots = row_dots(self._matrix[visible], query)
        else:
            dots = row_dots(self._matrix[: self._n], query)[visible]
        return dots

    def _may_be_nearest(
        self, visible: IntArray, query: npt.NDArray[np.float32], k: int,
    ) -> IntArray | None:
        """The visible slots that can be among the ``k`` nearest (a coarse int8 scan);
        None where the float32 scan of them all is the way (no SimSIMD, few rows)."""
        if not self._coarse or visible.size < coarse.MIN_ROWS or k >= visible.size:
            return None
        query_codes, query_scale = coarse.quantize_query(query)
        span = _dense_span(visible)
        ratios: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
        if span is not None:  # slices, not copies; the visible rows picked out after
            s, e = span
            int_dot = coarse.int_dots(self._codes[s:e], query_codes)
            ratios = self._scale_ratio[s:e], self._l1_ratio[s:e]
            if e - s != visible.size:
                pick = visible - s
                int_dot, ratios = int_dot[pick], (ratios[0][pick], ratios[1][pick])
        else:
            runs = _runs(visible)
            if len(runs) <= MAX_RUNS:
                int_dot = np.concatenate(
                    [coarse.int_dots(self._codes[s:e], query_codes) for s, e in runs])
            else:
                int_dot = coarse.int_dots(self._codes[visible], query_codes)
            ratios = self._scale_ratio[visible], self._l1_ratio[visible]
        keep = coarse.may_be_nearest(int_dot, *ratios, query, query_scale, k)
        chosen: IntArray = visible[keep]
        # most rows still in (a zero query, scores all alike): scanning them in place
        # beats copying them out
        return chosen if chosen.size * 2 <= visible.size else None

    def nearest(
        self, query: npt.NDArray[np.float32], mask_of: Callable[[VectorSet], BoolArray],
        k: int,
    ) -> list[tuple[str, float]]:
        """``(id, cosine)`` of the ``k`` rows ``mask_of(self)`` selects nearest to ``query``.

        Best first; equal cosines go older first, then by id (as the SQL paths order
        them). Cosines are computed as the exact scan computes them.
        """
        if k <= 0:
            return []
        visible = np.flatnonzero(mask_of(self))
        if visible.size == 0:
            return []
        maybe = self._may_be_nearest(visible, query, k)
        if maybe is not None:  # only the rows that can be among the k nearest
            visible = maybe
            dots = row_dots(self._matrix[visible], query)
        else:
            dots = self._dots(visible, query)
            if dots.size != visible.size:  # reorganised: slots moved
                visible = np.flatnonzero(mask_of(self))
                dots = self._dots(visible, query)
        cos = cosines(dots, self._norms[visible], query)
        if cos.size > k:
            # the k-th largest, found as the k-th smallest of the negation: introselect
            # is much faster near the start, and scores often repeat
            cut = -np.partition(-cos, k - 1)[k - 1]
            candidates = np.flatnonzero(cos >= cut)
        else:
            candidates = np.arange(cos.size)
        scores = cos[candidates].astype(np.float64)
        ids = self._ids
        chosen = best_slots(visible[candidates], scores, self._created, k, ids.__getitem__)
        score_of = dict(zip(visible[candidates].tolist(), scores.tolist(), strict=True))
        return [(ids[s], score_of[s]) for s in chosen]


def _usable(row: RowTuple, nbytes: int) -> bool:
    return row[6] is not None and len(row[6]) == nbytes


def _audience_order(
    process: npt.NDArray[np.int32], session: npt.NDArray[np.int32],
    shared: BoolArray, superseded: BoolArray,
) -> IntArray:
    """Row order: everyone's rows (no persona, or shared) first, then per persona;
    within those, current before superseded, then by persona, then by session."""
    everyone = (process == NULL) | shared
    order: IntArray = np.lexsort((session, process, superseded, ~everyone))
    return order
