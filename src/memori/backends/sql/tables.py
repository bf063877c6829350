"""The SQL layout shared by the SQL backends (SQLAlchemy Core).

Every primary key and index leads with ``entity_id`` so the layout suits a
Postgres sharded by entity (Citus distribution column). The augmentation
outbox is its own small table holding only pending work, so the background
worker never scans the turns table.

The dialect-specific parts (FTS5 tables, tsvector columns, vector indexes)
live in their own migration revisions; ``build_tables`` lets each backend pick
the column types for JSON and vectors, and a schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

ID = 255
"""Length of id columns: entity, process and session ids are at most 255 characters."""
ITEM_ID = 64

TURNS = "memori_turns"
MEMORIES = "memori_memories"
OUTBOX = "memori_outbox"
META = "memori_meta"
VERSION_TABLE = "memori_alembic_version"


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    turns: Table
    memories: Table
    outbox: Table
    meta: Table


def build_tables(
    *,
    schema: str | None = None,
    json_type: Any = JSON,
    vector_type: Any = LargeBinary,
) -> Tables:
    """The four tables, bound to a fresh MetaData (optionally in ``schema``)."""
    md = MetaData(schema=schema)
    turns = Table(
        TURNS, md,
        Column("entity_id", String(ID), nullable=False),
        Column("id", String(ITEM_ID), nullable=False),
        Column("process_id", String(ID), nullable=True),
        Column("session_id", String(ID), nullable=False),
        Column("role", String(32), nullable=False),
        Column("content", Text, nullable=False),
        Column("created_at", Float, nullable=False),
        Column("metadata", json_type, nullable=False),
        Column("extract_state", String(16), nullable=False),
        Column("extract_attempts", Integer, nullable=False),
        Column("extract_error", Text, nullable=True),
        Column("embedding", vector_type, nullable=True),
        PrimaryKeyConstraint("entity_id", "id", name="memori_turns_pk"),
        Index("memori_turns_scope_idx", "entity_id", "process_id", "session_id", "created_at"),
    )
    memories = Table(
        MEMORIES, md,
        Column("entity_id", String(ID), nullable=False),
        Column("id", String(ITEM_ID), nullable=False),
        Column("process_id", String(ID), nullable=True),
        Column("shared", Boolean, nullable=False),
        Column("kind", String(32), nullable=False),
        Column("content", Text, nullable=False),
        Column("session_id", String(ID), nullable=True),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=True),
        Column("last_seen_at", Float, nullable=True),
        Column("count", Integer, nullable=False),
        Column("superseded_by", String(ITEM_ID), nullable=True),
        Column("source_turn_ids", json_type, nullable=False),
        Column("metadata", json_type, nullable=False),
        Column("embedding", vector_type, nullable=True),
        Column("pinned", Boolean, nullable=False, server_default=false()),
        Column("expires_at", Float, nullable=True),
        PrimaryKeyConstraint("entity_id", "id", name="memori_memories_pk"),
        Index("memori_memories_scope_idx", "entity_id", "process_id", "created_at"),
    )
    outbox = Table(
        OUTBOX, md,
        Column("entity_id", String(ID), nullable=False),
        Column("turn_id", String(ITEM_ID), nullable=False),
        Column("created_at", Float, nullable=False),
        PrimaryKeyConstraint("entity_id", "turn_id", name="memori_outbox_pk"),
    )
    meta = Table(
        META, md,
        Column("key", String(255), nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint("key", name="memori_meta_pk"),
    )
    return Tables(md, turns, memories, outbox, meta)
