"""PostgreSQL search: pgvector, a tsvector column with a GIN index, RLS policies.

- ``CREATE EXTENSION IF NOT EXISTS vector`` (a clear error when the role may not).
- ``search_tsv tsvector`` on turns and memories, written by the store from the
  same Python tokeniser that builds queries (the server's parser and locale would
  split and fold words differently), with a GIN index each; rows already present
  are back-filled here with the tokeniser frozen in
  ``memori.migrations.frozen.r0003_tsvector``.
- Vectors are kept inline (``STORAGE MAIN``) so exact in-scope scans read no TOAST.
- One row-level security policy per table, keyed on the entity; inert until a
  store enables RLS (``row_level_security=True``).

HNSW indexes are not created here: they depend on the vector dimension, which
only the store knows; ``setup()`` creates them when asked (``vector_index="hnsw"``).
No-op on every other dialect.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memori.migrations.frozen.r0003_postgres import (
    POLICY_TABLES,
    create_policy_sql,
    drop_policy_sql,
    ensure_vector_extension,
    qualified,
    quote_ident,
)
from memori.migrations.frozen.r0003_tsvector import tsvector_text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEARCHABLE = ("memori_turns", "memori_memories")
BACKFILL_BATCH = 1000


def _schema() -> str | None:
    schema: str | None = op.get_context().config.attributes.get("schema")
    return schema


def _is_postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _backfill(schema: str | None, table: str) -> None:
    """Fill ``search_tsv`` of existing rows, page by page on the primary key."""
    bind = op.get_bind()
    name = qualified(schema, table)
    after = ("", "")
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT entity_id, id, content FROM {name} "
                "WHERE (entity_id, id) > (:e, :i) ORDER BY entity_id, id LIMIT :n"
            ),
            {"e": after[0], "i": after[1], "n": BACKFILL_BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.text(
                f"UPDATE {name} SET search_tsv = CAST(:v AS tsvector) "
                "WHERE entity_id = :e AND id = :i"
            ),
            [{"v": tsvector_text(r[2], r[0]), "e": r[0], "i": r[1]} for r in rows],
        )
        after = (rows[-1][0], rows[-1][1])


def upgrade() -> None:
    if not _is_postgres():
        return
    schema = _schema()
    ensure_vector_extension(op.get_bind())
    for table in SEARCHABLE:
        name = qualified(schema, table)
        op.execute(f"ALTER TABLE {name} ADD COLUMN search_tsv tsvector")
        op.execute(f"ALTER TABLE {name} ALTER COLUMN embedding SET STORAGE MAIN")
        _backfill(schema, table)
        op.execute(
            f"CREATE INDEX {quote_ident(table + '_search_idx')} ON {name} "
            "USING gin (search_tsv)"
        )
    for table in POLICY_TABLES:
        op.execute(create_policy_sql(schema, table))


def downgrade() -> None:
    if not _is_postgres():
        return
    schema = _schema()
    for table in POLICY_TABLES:
        name = qualified(schema, table)
        op.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")
        op.execute(drop_policy_sql(schema, table))
    for table in SEARCHABLE:
        name = qualified(schema, table)
        index = qualified(schema, table + "_search_idx")
        op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute(f"ALTER TABLE {name} DROP COLUMN IF EXISTS search_tsv")
        op.execute(f"ALTER TABLE {name} ALTER COLUMN embedding SET STORAGE EXTENDED")
