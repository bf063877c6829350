"""The portable record form of turns and memories (export, import, JSONL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memori.core.models import ExtractState, Memory, Turn
from memori.core.protocols import Record

RECORD_VERSION = 1


def turn_to_record(turn: Turn) -> Record:
    return {
        "type": "turn",
        "v": RECORD_VERSION,
        "id": turn.id,
        "entity_id": turn.entity_id,
        "process_id": turn.process_id,
        "session_id": turn.session_id,
        "role": turn.role,
        "content": turn.content,
        "created_at": turn.created_at,
        "metadata": dict(turn.metadata),
        "extract_state": turn.extract_state.value,
        "extract_attempts": turn.extract_attempts,
        "extract_error": turn.extract_error,
        "embedding": list(turn.embedding) if turn.embedding is not None else None,
    }


def memory_to_record(memory: Memory) -> Record:
    return {
        "type": "memory",
        "v": RECORD_VERSION,
        "id": memory.id,
        "entity_id": memory.entity_id,
        "process_id": memory.process_id,
        "session_id": memory.session_id,
        "shared": memory.shared,
        "kind": memory.kind,
        "content": memory.content,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "last_seen_at": memory.last_seen_at,
        "count": memory.count,
        "superseded_by": memory.superseded_by,
        "source_turn_ids": list(memory.source_turn_ids),
        "metadata": dict(memory.metadata),
        "embedding": list(memory.embedding) if memory.embedding is not None else None,
        "pinned": memory.pinned,
        "expires_at": memory.expires_at,
    }


def to_record(item: Turn | Memory) -> Record:
    return turn_to_record(item) if isinstance(item, Turn) else memory_to_record(item)


def _embedding(value: Any) -> tuple[float, ...] | None:
    return tuple(float(x) for x in value) if value is not None else None


def from_record(record: Record) -> Turn | Memory:
    """Rebuild a Turn or Memory; raises ValueError on a malformed record."""
    try:
        return _from_record(record)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed {record.get('type', 'unknown')} record: {e!r}") from e


def _from_record(record: Record) -> Turn | Memory:
    kind = record.get("type")
    if kind == "turn":
        return turn_from_fields(record, metadata=record.get("metadata"),
                                embedding=_embedding(record.get("embedding")))
    if kind == "memory":
        return memory_from_fields(record, metadata=record.get("metadata"),
                                  embedding=_embedding(record.get("embedding")))
    raise ValueError(f"unknown record type {kind!r}")


def turn_from_fields(
    fields: Mapping[str, Any], *, metadata: Mapping[str, Any] | None,
    embedding: tuple[float, ...] | None,
) -> Turn:
    """A turn from a mapping of its fields (a record, a row, a document); the caller
    decodes ``metadata`` and ``embedding``, whose stored forms differ by backend."""
    return Turn(
        id=fields["id"],
        entity_id=fields["entity_id"],
        process_id=fields.get("process_id"),
        session_id=fields["session_id"],
        role=fields["role"],
        content=fields["content"],
        created_at=float(fields["created_at"]),
        metadata=dict(metadata or {}),
        extract_state=ExtractState(fields.get("extract_state") or ExtractState.PENDING.value),
        extract_attempts=int(fields.get("extract_attempts") or 0),
        extract_error=fields.get("extract_error"),
        embedding=embedding,
    )


def memory_from_fields(
    fields: Mapping[str, Any], *, metadata: Mapping[str, Any] | None,
    embedding: tuple[float, ...] | None,
) -> Memory:
    """A memory from a mapping of its fields (see :func:`turn_from_fields`)."""
    count = fields.get("count")
    return Memory(
        id=fields["id"],
        entity_id=fields["entity_id"],
        process_id=fields.get("process_id"),
        session_id=fields.get("session_id"),
        shared=bool(fields.get("shared", False)),
        kind=fields.get("kind") or "fact",
        content=fields["content"],
        created_at=float(fields["created_at"]),
        updated_at=_optional_float(fields.get("updated_at")),
        last_seen_at=_optional_float(fields.get("last_seen_at")),
        count=1 if count is None else int(count),
        superseded_by=fields.get("superseded_by"),
        source_turn_ids=tuple(fields.get("source_turn_ids") or ()),
        metadata=dict(metadata or {}),
        embedding=embedding,
        pinned=bool(fields.get("pinned") or False),
        expires_at=_optional_float(fields.get("expires_at")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
