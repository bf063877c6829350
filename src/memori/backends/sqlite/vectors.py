"""Vectors on SQLite: float32 little-endian blobs, searched exactly inside a scope.

Two paths rank the same rows the same way: ``vec_distance_cosine`` from
sqlite-vec inside SQLite (when the driver could load it), or numpy over the
scope's blobs fetched by the store (when it could not).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memori.core.errors import DimensionMismatchError

FLOAT32 = np.dtype("<f4")


def check_vector(vector: Sequence[float], dim: int | None) -> npt.NDArray[np.float32]:
    """The vector as float32, after checking its dimension and that it is finite."""
    if dim is None:
        raise DimensionMismatchError("this store was opened with vector_dim=None: no vectors")
    if isinstance(vector, (str, bytes)):
        raise ValueError("a vector must be a sequence of numbers")
    try:
        arr = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError("a vector must be a sequence of numbers") from e
    if arr.ndim != 1 or arr.shape[0] != dim:
        got = arr.shape[0] if arr.ndim == 1 else arr.shape
        raise DimensionMismatchError(f"vector has {got} components, the store expects {dim}")
    if not np.isfinite(arr).all():
        raise ValueError("a vector must hold finite numbers only")
    return arr.astype(FLOAT32)


class BlobCodec:
    """Encodes embeddings as float32 blobs of a fixed dimension (None stores nothing)."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim
        self.nbytes = 0 if dim is None else dim * FLOAT32.itemsize

    def encode(self, vector: Sequence[float] | None) -> bytes | None:
        if vector is None or self.dim is None:
            return None
        return check_vector(vector, self.dim).tobytes()

    def decode(self, blob: Any) -> tuple[float, ...] | None:
        if blob is None:
            return None
        values: list[float] = np.frombuffer(bytes(blob), dtype=FLOAT32).tolist()
        return tuple(values)


def exact_cosines(
    query: npt.NDArray[np.float32], blobs: Sequence[bytes]
) -> npt.NDArray[np.float64]:
    """Cosine of ``query`` with each blob (0 where either vector is all zeros)."""
    if not blobs:
        return np.zeros(0)
    dim = query.shape[0]
    matrix = np.frombuffer(b"".join(blobs), dtype=FLOAT32).reshape(len(blobs), dim)
    qnorm = float(np.linalg.norm(query))
    # einsum, not ``@``: OpenBLAS threads a matrix-vector product, which on a busy
    # machine turns a sub-millisecond job into tens of milliseconds
    dots = np.einsum("ij,j->i", matrix, query).astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)).astype(np.float64) * qnorm
    out = np.zeros(len(blobs))
    nonzero = norms > 0
    out[nonzero] = dots[nonzero] / norms[nonzero]
    return np.clip(out, -1.0, 1.0)


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
