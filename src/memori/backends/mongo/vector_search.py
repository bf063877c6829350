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

FILTER_FIELDS = ("entity_id", "persona", "session_id", "audience", "current")
"""Fields the vector index must know, so that ``$vectorSearch`` can pre-filter by scope."""
SCORE_FIELD = "_memori_score"
MAX_CANDIDATES = 10_000

Vector = npt.NDArray[np.float32]


def encode(vector: Sequence[float]) -> Binary:
    """A BSON float32 vector of checked values (``store_rules.check_vector``)."""
    return Binary.from_vector(np.asarray(vector, dtype="<f4"), BinaryVectorDtype.FLOAT32)


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


def cosines(query: Vector, matrix: Vector) -> npt.NDArray[np.float64]:
    """The cosine of each row against the query; 0 for a zero vector."""
    q = query.astype(np.float64)
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
    dots = m @ q
    result: npt.NDArray[np.float64] = np.divide(
        dots, norms, out=np.zeros_like(dots), where=norms > 0)
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
    """Indices of the ``k`` highest scores, best first (stable for ties)."""
    if k <= 0 or scores.size == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[: min(k, scores.size)]]
