"""Turns and memories as Qdrant points: deterministic ids, payloads, dense and sparse vectors.

A point id is a UUID derived from ``(entity_id, item id)`` (uuid5), so two entities
may use the same item id without colliding; both ids are kept in the payload, and
every read matches them there. The dense vector (``dense``) and the sparse text
vector (``text``) are named vectors that a point may lack (no embedding, no words).
Qdrant stores cosine vectors normalised, so the payload keeps the embedding's
length (``dense_norm``) and reads scale the vector back to what was written.
Metadata is deep-copied both ways: local mode keeps payloads as Python objects.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from qdrant_client import models

from memori.backends.qdrant import filters as f
from memori.backends.qdrant.sparse import document_vector
from memori.core.models import ExtractState, Memory, Turn
from memori.core.store_rules import check_vector

DENSE = "dense"
TEXT = "text"
DENSE_NORM = "dense_norm"
_NAMESPACE = uuid.UUID("5d0c51a4-2f8e-4d0a-9a57-6d656d6f7269")


def point_id(entity_id: str, item_id: str) -> str:
    """The Qdrant point id of an item (ids may not hold NUL, so the join is unambiguous)."""
    return str(uuid.uuid5(_NAMESPACE, f"{entity_id}\x00{item_id}"))


def _vectors(
    content: str, embedding: Sequence[float] | None, dim: int | None, avg_len: float
) -> dict[str, Any]:
    vectors: dict[str, Any] = {}
    if embedding is not None and dim is not None:
        vectors[DENSE] = check_vector(embedding, dim).tolist()
    indices, values = document_vector(content, avg_len=avg_len)
    if indices:
        vectors[TEXT] = models.SparseVector(indices=indices, values=values)
    return vectors


def _norm(embedding: Sequence[float] | None, dim: int | None) -> float | None:
    if embedding is None or dim is None:
        return None
    return math.sqrt(math.fsum(float(x) * float(x) for x in embedding))


def turn_payload(turn: Turn, dim: int | None) -> dict[str, Any]:
    return {
        f.ENTITY: turn.entity_id,
        f.ITEM: turn.id,
        f.PROCESS: turn.process_id,
        f.SESSION: turn.session_id,
        "role": turn.role,
        "content": turn.content,
        f.CREATED_AT: float(turn.created_at),
        "metadata": copy.deepcopy(dict(turn.metadata)),
        f.EXTRACT_STATE: turn.extract_state.value,
        "extract_attempts": turn.extract_attempts,
        "extract_error": turn.extract_error,
        DENSE_NORM: _norm(turn.embedding, dim),
    }


def memory_payload(memory: Memory, dim: int | None) -> dict[str, Any]:
    return {
        f.ENTITY: memory.entity_id,
        f.ITEM: memory.id,
        f.PROCESS: memory.process_id,
        "shared": memory.shared,
        f.ALL_PERSONAS: memory.process_id is None or memory.shared,
        "kind": memory.kind,
        "content": memory.content,
        f.SESSION: memory.session_id,
        f.CREATED_AT: float(memory.created_at),
        "updated_at": memory.updated_at,
        "last_seen_at": memory.last_seen_at,
        "count": memory.count,
        "superseded_by": memory.superseded_by,
        f.CURRENT: memory.superseded_by is None,
        "source_turn_ids": list(memory.source_turn_ids),
        "metadata": copy.deepcopy(dict(memory.metadata)),
        DENSE_NORM: _norm(memory.embedding, dim),
        "pinned": bool(memory.pinned),
        "expires_at": None if memory.expires_at is None else float(memory.expires_at),
    }


def to_point(item: Turn | Memory, dim: int | None, avg_len: float) -> models.PointStruct:
    """The point storing ``item`` (embedding dropped when the store has no vectors)."""
    payload = turn_payload(item, dim) if isinstance(item, Turn) else memory_payload(item, dim)
    return models.PointStruct(
        id=point_id(item.entity_id, item.id),
        vector=_vectors(item.content, item.embedding, dim, avg_len),
        payload=payload,
    )


def _embedding(payload: Mapping[str, Any], vector: Any) -> tuple[float, ...] | None:
    """The embedding as written: Qdrant's unit vector times the stored length."""
    dense = vector.get(DENSE) if isinstance(vector, Mapping) else None
    if dense is None:
        return None
    norm = payload.get(DENSE_NORM)
    scale = float(norm) if isinstance(norm, int | float) else 1.0
    return tuple(float(x) * scale for x in dense)


def turn_from_point(payload: Mapping[str, Any], vector: Any = None) -> Turn:
    return Turn(
        id=payload[f.ITEM],
        entity_id=payload[f.ENTITY],
        process_id=payload.get(f.PROCESS),
        session_id=payload[f.SESSION],
        role=payload["role"],
        content=payload["content"],
        created_at=float(payload[f.CREATED_AT]),
        metadata=copy.deepcopy(dict(payload.get("metadata") or {})),
        extract_state=ExtractState(payload.get(f.EXTRACT_STATE, ExtractState.PENDING.value)),
        extract_attempts=int(payload.get("extract_attempts", 0)),
        extract_error=payload.get("extract_error"),
        embedding=_embedding(payload, vector),
    )


def memory_from_point(payload: Mapping[str, Any], vector: Any = None) -> Memory:
    return Memory(
        id=payload[f.ITEM],
        entity_id=payload[f.ENTITY],
        process_id=payload.get(f.PROCESS),
        shared=bool(payload.get("shared", False)),
        kind=payload.get("kind", "fact"),
        content=payload["content"],
        session_id=payload.get(f.SESSION),
        created_at=float(payload[f.CREATED_AT]),
        updated_at=payload.get("updated_at"),
        last_seen_at=payload.get("last_seen_at"),
        count=int(payload.get("count", 1)),
        superseded_by=payload.get("superseded_by"),
        source_turn_ids=tuple(payload.get("source_turn_ids") or ()),
        metadata=copy.deepcopy(dict(payload.get("metadata") or {})),
        embedding=_embedding(payload, vector),
        pinned=bool(payload.get("pinned", False)),
        expires_at=_optional_float(payload.get("expires_at")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
