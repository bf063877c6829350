"""One entity's vectors of one kind held in numpy arrays, ranked inside a scope.

Rows carry what the scope filters and the tie-break read: id, created_at,
process_id, session_id (turns), shared and superseded (memories). Vectors are kept
L2-normalised in float32 so a search is one matrix-vector product; the scope is a
boolean mask over the rows, with the same rules as ``memori.backends.sql.filters``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from memori.backends.sqlite.vectors import FLOAT32

NULL = -1
"""Code of a NULL process or session id."""
GROWTH = 1.25
COMPACT_MIN_DEAD = 64
SUBSET_FRACTION = 0.25
"""Below this share of visible rows, only the visible rows are multiplied."""

BoolArray = npt.NDArray[np.bool_]


class VectorRow(NamedTuple):
    """What the cache keeps of one turn or memory (``embedding`` None: not searchable)."""

    id: str
    created_at: float
    process_id: str | None
    session_id: str | None
    shared: bool
    superseded: bool
    embedding: bytes | None


class _Codes:
    """Small ints for the distinct ids of one column (NULL is -1)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def encode(self, value: str | None) -> int:
        if value is None:
            return NULL
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.codes)
        return code

    def lookup(self, value: str | None) -> int | None:
        """The code of ``value`` (None when no row ever had it)."""
        return NULL if value is None else self.codes.get(value)


def _unit_rows(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to length 1 in place (all-zero rows stay zero: their cosine is 0)."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    nonzero = norms > 0
    matrix[nonzero] /= norms[nonzero, None].astype(np.float32)
    return matrix


def unit_query(query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The query scaled to length 1 (an all-zero query stays zero)."""
    norm = float(np.linalg.norm(query.astype(np.float64)))
    if norm == 0.0:
        return np.zeros_like(query, dtype=np.float32)
    return (query.astype(np.float64) / norm).astype(np.float32)


class VectorSet:
    """The searchable rows of one (kind, entity) at one version of the database.

    Callers hold ``lock`` while reading or changing it; ``version`` is the entity
    version (revision 0004) the contents match.
    """

    def __init__(self, dim: int, version: int, rows: Sequence[VectorRow] = ()) -> None:
        self.dim = dim
        self.nbytes = dim * FLOAT32.itemsize
        self.version = version
        self.lock = threading.Lock()
        self._processes = _Codes()
        self._sessions = _Codes()
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._n = 0
        self._allocate(max(16, int(len(rows) * GROWTH)))
        self.upsert(rows)

    def _allocate(self, capacity: int) -> None:
        self._matrix = np.zeros((capacity, self.dim), dtype=FLOAT32)
        self._created = np.zeros(capacity, dtype=np.float64)
        self._alive = np.zeros(capacity, dtype=np.bool_)
        self._process = np.full(capacity, NULL, dtype=np.int32)
        self._session = np.full(capacity, NULL, dtype=np.int32)
        self._shared = np.zeros(capacity, dtype=np.bool_)
        self._superseded = np.zeros(capacity, dtype=np.bool_)

    @property
    def capacity(self) -> int:
        """Rows allocated (what the cache's memory bound counts)."""
        return int(self._matrix.shape[0])

    def __len__(self) -> int:
        return len(self._rows)

    def _columns(self) -> list[npt.NDArray[Any]]:
        return [self._matrix, self._created, self._alive, self._process, self._session,
                self._shared, self._superseded]

    def _grow(self, needed: int) -> None:
        old, previous = self._n, self._columns()
        self._allocate(max(needed, int(self.capacity * GROWTH) + 16))
        for new, prev in zip(self._columns(), previous, strict=True):
            new[:old] = prev[:old]

    def upsert(self, rows: Iterable[VectorRow]) -> None:
        """Add or replace rows by id (the last of an id wins); no usable vector: removed."""
        latest = {row.id: row for row in rows}
        unusable = [i for i, r in latest.items()
                    if r.embedding is None or len(r.embedding) != self.nbytes]
        for item_id in unusable:
            del latest[item_id]
        if latest:
            self._put(list(latest.values()))
        if unusable:
            self.remove(unusable)

    def _put(self, rows: list[VectorRow]) -> None:
        slots = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            slot = self._rows.get(row.id)
            if slot is None:
                if self._n >= self.capacity:
                    self._grow(self._n + 1)
                slot = self._rows[row.id] = self._n
                self._ids.append(row.id)
                self._n += 1
            slots[i] = slot
        block = np.frombuffer(b"".join(r.embedding or b"" for r in rows), dtype=FLOAT32)
        self._matrix[slots] = _unit_rows(block.reshape(len(rows), self.dim).copy())
        self._created[slots] = [r.created_at for r in rows]
        self._alive[slots] = True
        self._process[slots] = [self._processes.encode(r.process_id) for r in rows]
        self._session[slots] = [self._sessions.encode(r.session_id) for r in rows]
        self._shared[slots] = [r.shared for r in rows]
        self._superseded[slots] = [r.superseded for r in rows]

    def remove(self, ids: Iterable[str]) -> None:
        """Forget rows by id (unknown ids are ignored); compacts when many slots are dead."""
        for item_id in ids:
            slot = self._rows.pop(item_id, None)
            if slot is not None:
                self._alive[slot] = False
        dead = self._n - len(self._rows)
        if dead >= COMPACT_MIN_DEAD and dead * 4 >= self._n:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._n])
        kept = [column[keep] for column in self._columns()]
        self._ids = [self._ids[i] for i in keep.tolist()]
        self._rows = {item_id: i for i, item_id in enumerate(self._ids)}
        self._n = len(self._ids)
        self._allocate(max(16, int(self._n * GROWTH)))
        for new, old in zip(self._columns(), kept, strict=True):
            new[: self._n] = old

    # scopes (the rules of memori.backends.sql.filters, over the arrays)

    def memory_mask(self, process_id: str | None, include_superseded: bool) -> BoolArray:
        """Memories of the persona, of no persona, or shared (superseded left out unless asked)."""
        n = self._n
        mask = self._alive[:n] & ((self._process[:n] == NULL) | self._shared[:n])
        code = self._processes.lookup(process_id)
        if process_id is not None and code is not None:
            mask |= self._alive[:n] & (self._process[:n] == code)
        if not include_superseded:
            mask &= ~self._superseded[:n]
        out: BoolArray = mask
        return out

    def turn_mask(self, process_id: str | None, session_id: str | None) -> BoolArray:
        """Turns of exactly this persona (None: no persona) and, if given, this session."""
        n = self._n
        code = self._processes.lookup(process_id)
        if code is None:
            return np.zeros(n, dtype=np.bool_)
        mask = self._alive[:n] & (self._process[:n] == code)
        if session_id is not None:
            session = self._sessions.lookup(session_id)
            if session is None:
                return np.zeros(n, dtype=np.bool_)
            mask &= self._session[:n] == session
        out: BoolArray = mask
        return out

    # ranking

    def nearest(
        self, query: npt.NDArray[np.float32], mask: BoolArray, k: int
    ) -> list[tuple[str, float]]:
        """``(id, cosine)`` of the ``k`` rows in ``mask`` nearest to the unit ``query``.

        Best first; equal cosines go older first, then by id (as the SQL paths order them).
        """
        visible = np.flatnonzero(mask)
        if k <= 0 or visible.size == 0:
            return []
        if visible.size < SUBSET_FRACTION * self._n:
            dots = np.einsum("ij,j->i", self._matrix[visible], query)
        else:
            # einsum, not BLAS: OpenBLAS threads a matrix-vector product, which costs
            # tens of milliseconds on a busy machine for a sub-millisecond job
            dots = np.einsum("ij,j->i", self._matrix[: self._n], query)[visible]
        cosines = np.clip(dots.astype(np.float64), -1.0, 1.0)
        if cosines.size > k:
            cut = np.partition(cosines, cosines.size - k)[cosines.size - k]
            candidates = np.flatnonzero(cosines >= cut)
        else:
            candidates = np.arange(cosines.size)
        created, ids = self._created, self._ids
        ordered = sorted(
            candidates.tolist(),
            key=lambda j: (-cosines[j], created[visible[j]], ids[visible[j]]),
        )[:k]
        return [(ids[int(visible[j])], float(cosines[j])) for j in ordered]
