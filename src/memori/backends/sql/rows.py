"""Row <-> model mapping for the shared SQL layout (dialect-neutral).

Vectors are the one dialect-specific column, so each function takes the
backend's encoder or decoder (float32 blobs on SQLite, pgvector on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from memori.core.models import ExtractState, Memory, Turn
from memori.core.records import memory_from_fields, turn_from_fields
from memori.core.store_rules import check_patch

VectorEncoder = Callable[[Sequence[float] | None], Any]
"""Turns a model's embedding (or None) into the column value."""
VectorDecoder = Callable[[Any], "tuple[float, ...] | None"]
"""Turns a column value back into an embedding tuple (or None)."""

RowLike = Mapping[Any, Any]
"""A result row as a mapping of column name to value (SQLAlchemy's ``RowMapping`` fits)."""

TURN_COLUMNS = (
    "entity_id", "id", "process_id", "session_id", "role", "content", "created_at",
    "metadata", "extract_state", "extract_attempts", "extract_error", "embedding",
)
MEMORY_COLUMNS = (
    "entity_id", "id", "process_id", "shared", "kind", "content", "session_id", "created_at",
    "updated_at", "last_seen_at", "count", "superseded_by", "source_turn_ids", "metadata",
    "embedding", "pinned", "expires_at",
)


def turn_to_row(turn: Turn, encode: VectorEncoder) -> dict[str, Any]:
    """The column values of one turn."""
    return {
        "entity_id": turn.entity_id,
        "id": turn.id,
        "process_id": turn.process_id,
        "session_id": turn.session_id,
        "role": turn.role,
        "content": turn.content,
        "created_at": float(turn.created_at),
        "metadata": dict(turn.metadata),
        "extract_state": ExtractState(turn.extract_state).value,
        "extract_attempts": int(turn.extract_attempts),
        "extract_error": turn.extract_error,
        "embedding": encode(turn.embedding),
    }


def row_to_turn(row: RowLike, decode: VectorDecoder) -> Turn:
    """Rebuild a turn from a row mapping (extra columns are ignored)."""
    return turn_from_fields(row, metadata=row["metadata"], embedding=decode(row.get("embedding")))


def memory_to_row(memory: Memory, encode: VectorEncoder) -> dict[str, Any]:
    """The column values of one memory."""
    return {
        "entity_id": memory.entity_id,
        "id": memory.id,
        "process_id": memory.process_id,
        "shared": bool(memory.shared),
        "kind": str(memory.kind),
        "content": memory.content,
        "session_id": memory.session_id,
        "created_at": float(memory.created_at),
        "updated_at": _opt_float(memory.updated_at),
        "last_seen_at": _opt_float(memory.last_seen_at),
        "count": int(memory.count),
        "superseded_by": memory.superseded_by,
        "source_turn_ids": list(memory.source_turn_ids),
        "metadata": dict(memory.metadata),
        "embedding": encode(memory.embedding),
        "pinned": bool(memory.pinned),
        "expires_at": _opt_float(memory.expires_at),
    }


def row_to_memory(row: RowLike, decode: VectorDecoder) -> Memory:
    """Rebuild a memory from a row mapping (extra columns are ignored)."""
    return memory_from_fields(row, metadata=row["metadata"],
                              embedding=decode(row.get("embedding")))


def memory_patch_to_values(changes: Mapping[str, Any], encode: VectorEncoder) -> dict[str, Any]:
    """Column values for ``update_memory``: the changes as ``store_rules.check_patch``
    checks them, the embedding checked and encoded by ``encode``."""
    values = check_patch({k: v for k, v in changes.items() if k != "embedding"}, None)
    if "source_turn_ids" in values:
        values["source_turn_ids"] = list(values["source_turn_ids"])
    if "embedding" in changes:
        values["embedding"] = encode(changes["embedding"])
    return values


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
