"""Vector similarity: ``$vectorSearch`` where the server offers it, an exact scan otherwise.

Vectors are stored as BSON binary float32 vectors (subtype 9), which is compact,
decodes straight into numpy and is what a MongoDB vector index accepts. The
exact fallback fetches only the vectors of documents inside the scope filter and
ranks them by cosine similarity here. Both paths score ``(1 + cosine) / 2``,
which is also what ``$vectorSearch`` reports for a cosine index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from bson.binary import Binary, BinaryVectorDtype

from memori.backends.mongo.filters import Filter, vector_search_filter
from memori.core import DimensionMismatchError

FILTER_FIELDS = ("entity_id", "persona", "session_id", "audience", "current")
"""Fields the vector index must know, so that ``$vectorSearch`` can pre-filter by scope."""
SCORE_FIELD = "_memori_score"
MAX_CANDIDATES = 10_000

Vector = npt.NDArray[np.float32]


def check_vector(vector: Sequence[float], dim: int | None) -> Vector:
    """A validated float32 copy of ``vector`` (right length, finite components)."""
    if dim is None:
        raise DimensionMismatchError("opened with vector_dim=None: this store holds no vectors")
    if isinstance(vector, str | bytes):
        raise TypeError("a vector must be a sequence of floats")
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dim:
        raise DimensionMismatchError(
            f"expected a vector of {dim} components, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("vector components must be finite numbers")
    return array


def encode(vector: Vector) -> Binary:
    """A BSON float32 vector."""
    return Binary.from_vector(np.ascontiguousarray(vector, dtype="<f4"), BinaryVectorDtype.FLOAT32)


def decode(value: Any) -> Vector | None:
    """Read back what :func:`encode` stored (or a plain array of numbers)."""
    if value is None:
        return None
    if isinstance(value, Binary) and value.subtype == 9:
        raw = bytes(value)
        if raw[:1] != BinaryVectorDtype.FLOAT32.value:
            return np.asarray(value.as_vector().data, dtype=np.float32)
        return np.frombuffer(raw[2:], dtype="<f4").astype(np.float32)
    return np.asarray(list(value), dtype=np.float32)


def to_tuple(vector: Vector | None) -> tuple[float, ...] | None:
    return None if vector is None else tuple(float(x) for x in vector)


def cosine_scores(query: Vector, matrix: Vector) -> npt.NDArray[np.float64]:
    """``(1 + cosine) / 2`` of each row against the query; a zero vector scores 0.5."""
    q = query.astype(np.float64)
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
    dots = m @ q
    cos = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    result: npt.NDArray[np.float64] = np.clip((1.0 + cos) / 2.0, 0.0, 1.0)
    return result


def native_pipeline(
    index_name: str, scope: Filter, query: Vector, limit: int
) -> list[dict[str, Any]]:
    """``$vectorSearch`` pre-filtered by the scope, then the scope checked again."""
    candidates = min(MAX_CANDIDATES, max(limit * 20, 100))
    prefilter = vector_search_filter(scope)
    return [
        {"$vectorSearch": {
            "index": index_name,
            "path": "embedding",
            "queryVector": [float(x) for x in query],
            "numCandidates": candidates,
            "limit": min(limit, candidates),
            "filter": prefilter,
        }},
        {"$addFields": {SCORE_FIELD: {"$meta": "vectorSearchScore"}}},
        {"$match": scope},
    ]


def index_definition(dim: int) -> dict[str, Any]:
    """The vector index over ``embedding`` (cosine) with the scope fields as filters."""
    fields: list[dict[str, Any]] = [
        {"type": "vector", "path": "embedding", "numDimensions": dim, "similarity": "cosine"}
    ]
    fields.extend({"type": "filter", "path": f} for f in FILTER_FIELDS)
    return {"fields": fields}


def top_k(scores: npt.NDArray[np.float64], k: int) -> list[int]:
    """Indices of the ``k`` best scores, best first (stable for ties)."""
    if k <= 0 or scores.size == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[: min(k, scores.size)]]
