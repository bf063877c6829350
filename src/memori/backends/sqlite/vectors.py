"""Vectors on SQLite: float32 little-endian blobs, searched exactly inside a scope.

Two paths rank the same rows the same way: ``vec_distance_cosine`` from
sqlite-vec inside SQLite (when the driver could load it), or numpy over the
scope's blobs fetched by the store (when it could not).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memori.core.store_rules import check_vector

FLOAT32 = np.dtype("<f4")


def as_float32(values: array[float]) -> npt.NDArray[np.float32]:
    """Checked float32 values (``store_rules.check_vector``) as a little-endian array."""
    out: npt.NDArray[np.float32] = np.frombuffer(values, dtype=np.float32).astype(
        FLOAT32, copy=False)
    return out


class BlobCodec:
    """Encodes embeddings as float32 blobs of a fixed dimension (None stores nothing)."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim
        self.nbytes = 0 if dim is None else dim * FLOAT32.itemsize

    def encode(self, vector: Sequence[float] | None) -> bytes | None:
        if vector is None or self.dim is None:
            return None
        return as_float32(check_vector(vector, self.dim)).tobytes()

    def decode(self, blob: Any) -> tuple[float, ...] | None:
        if blob is None:
            return None
        values: list[float] = np.frombuffer(bytes(blob), dtype=FLOAT32).tolist()
        return tuple(values)


def row_norms(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The length of each row, in float32 (as the cosines below need them)."""
    norms: npt.NDArray[np.float32] = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    return norms


def row_dots(
    matrix: npt.NDArray[np.float32], query: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``row . query`` for each row.

    einsum, not ``@``: OpenBLAS threads a matrix-vector product, which on a busy
    machine turns a sub-millisecond job into tens of milliseconds.
    """
    dots: npt.NDArray[np.float32] = np.einsum("ij,j->i", matrix, query)
    return dots


def cosines(
    dots: npt.NDArray[np.float32], norms: npt.NDArray[np.float32], query: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Cosines from ``row_dots`` and ``row_norms`` (0 where either vector is all zeros).

    The exact scan and the vector cache both rank through this one formula, so their
    scores, and the order of equal ones, agree to the last bit.
    """
    scale = norms.astype(np.float64) * float(np.linalg.norm(query))
    out = np.zeros(dots.shape[0])
    nonzero = scale > 0
    out[nonzero] = dots.astype(np.float64)[nonzero] / scale[nonzero]
    return np.clip(out, -1.0, 1.0)


def exact_cosines(
    query: npt.NDArray[np.float32], blobs: Sequence[bytes]
) -> npt.NDArray[np.float64]:
    """Cosine of ``query`` with each blob (0 where either vector is all zeros)."""
    if not blobs:
        return np.zeros(0)
    dim = query.shape[0]
    matrix = np.frombuffer(b"".join(blobs), dtype=FLOAT32).reshape(len(blobs), dim)
    return cosines(row_dots(matrix, query), row_norms(matrix), query)


def top_k(
    scores: npt.NDArray[np.float64], k: int, ties: Callable[[int], tuple[float, str]]
) -> list[int]:
    """Indexes of the ``k`` highest scores, best first; equal scores go by ``ties`` (age, id)."""
    n = scores.shape[0]
    if k <= 0 or n == 0:
        return []
    if k < n:
        # every index scoring at least the k-th best, so ties at the cut are all considered
        cut = np.partition(-scores, k - 1)[k - 1]
        candidates = np.flatnonzero(-scores <= cut)
    else:
        candidates = np.arange(n)
    ordered = sorted(candidates.tolist(), key=lambda i: (-scores[i], ties(i)))
    return [int(i) for i in ordered[:k]]


def distance_to_cosine(distance: float | None) -> float:
    """sqlite-vec's cosine distance (NULL for a zero vector) back to a cosine."""
    if distance is None or math.isnan(distance):
        return 0.0
    return max(-1.0, min(1.0, 1.0 - float(distance)))
