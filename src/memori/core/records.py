"""The portable record form of turns and memories (export, import, JSONL)."""

from __future__ import annotations

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
        return Turn(
            id=record["id"],
            entity_id=record["entity_id"],
            process_id=record.get("process_id"),
            session_id=record["session_id"],
            role=record["role"],
            content=record["content"],
            created_at=float(record["created_at"]),
            metadata=dict(record.get("metadata") or {}),
            extract_state=ExtractState(record.get("extract_state", "pending")),
            extract_attempts=int(record.get("extract_attempts", 0)),
            extract_error=record.get("extract_error"),
            embedding=_embedding(record.get("embedding")),
        )
    if kind == "memory":
        return Memory(
            id=record["id"],
            entity_id=record["entity_id"],
            process_id=record.get("process_id"),
            session_id=record.get("session_id"),
            shared=bool(record.get("shared", False)),
            kind=record.get("kind", "fact"),
            content=record["content"],
            created_at=float(record["created_at"]),
            updated_at=record.get("updated_at"),
            last_seen_at=record.get("last_seen_at"),
            count=int(record.get("count", 1)),
            superseded_by=record.get("superseded_by"),
            source_turn_ids=tuple(record.get("source_turn_ids") or ()),
            metadata=dict(record.get("metadata") or {}),
            embedding=_embedding(record.get("embedding")),
        )
    raise ValueError(f"unknown record type {kind!r}")
