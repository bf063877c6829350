"""Base tables: turns, memories, outbox, meta (every key leads with entity_id).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memori.migrations.frozen.r0001_types import json_type, vector_ddl_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str | None:
    schema: str | None = op.get_context().config.attributes.get("schema")
    return schema


def upgrade() -> None:
    schema = _schema()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")  # the embedding columns need it
    op.create_table(
        "memori_turns",
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=True),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("metadata", json_type(), nullable=False),
        sa.Column("extract_state", sa.String(16), nullable=False),
        sa.Column("extract_attempts", sa.Integer, nullable=False),
        sa.Column("extract_error", sa.Text, nullable=True),
        sa.Column("embedding", vector_ddl_type(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "id", name="memori_turns_pk"),
        schema=schema,
    )
    op.create_index(
        "memori_turns_scope_idx", "memori_turns",
        ["entity_id", "process_id", "session_id", "created_at"], schema=schema,
    )
    op.create_table(
        "memori_memories",
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("process_id", sa.String(255), nullable=True),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("session_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=True),
        sa.Column("last_seen_at", sa.Float, nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("superseded_by", sa.String(64), nullable=True),
        sa.Column("source_turn_ids", json_type(), nullable=False),
        sa.Column("metadata", json_type(), nullable=False),
        sa.Column("embedding", vector_ddl_type(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "id", name="memori_memories_pk"),
        schema=schema,
    )
    op.create_index(
        "memori_memories_scope_idx", "memori_memories",
        ["entity_id", "process_id", "created_at"], schema=schema,
    )
    op.create_table(
        "memori_outbox",
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "turn_id", name="memori_outbox_pk"),
        schema=schema,
    )
    op.create_table(
        "memori_meta",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="memori_meta_pk"),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_table("memori_meta", schema=schema)
    op.drop_table("memori_outbox", schema=schema)
    op.drop_index("memori_memories_scope_idx", table_name="memori_memories", schema=schema)
    op.drop_table("memori_memories", schema=schema)
    op.drop_index("memori_turns_scope_idx", table_name="memori_turns", schema=schema)
    op.drop_table("memori_turns", schema=schema)
