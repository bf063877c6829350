"""SQLite entity versions and change log: how an in-process vector cache stays current.

- ``memori_entity_versions(entity_id, kind, version)``: a counter per entity and
  kind ('turns' or 'memories') that every change to a row of that kind advances
  by one. A new counter starts at a random value, so a counter recreated after
  ``forget`` does not repeat the old values.
- ``memori_entity_changes(entity_id, kind, item_id, seq)``: for each item, the
  version of its last change; rows older than the last ``KEEP`` changes of the
  entity and kind are pruned.

Triggers on ``memori_turns`` and ``memori_memories`` maintain both on every
insert and delete, and on every update of a column vector search reads, inside
the writer's own transaction, whichever process or connection wrote. A cache at
version V catches up with version W by re-reading the items changed after V
(when V is within the last KEEP changes), or rescans. ``forget`` deletes the
entity's rows here too; an entity with rows always has a version row (existing
entities are given one below). The trigger SQL is in
``memori.migrations.frozen.r0004_sqlite_versions``.

Like the FTS triggers of 0002, a later revision that rebuilds either base table in
batch mode drops these triggers and must re-create them afterwards.
No-op on every other dialect.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from memori.migrations.frozen.r0004_sqlite_versions import (
    CHANGES,
    START,
    VERSIONS,
    WATCHED,
    create_triggers,
    drop_triggers,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def upgrade() -> None:
    if not _is_sqlite():
        return
    op.execute(
        f"CREATE TABLE {VERSIONS} ("
        "entity_id VARCHAR(255) NOT NULL, kind VARCHAR(16) NOT NULL, "
        "version INTEGER NOT NULL, "
        f"CONSTRAINT {VERSIONS}_pk PRIMARY KEY (entity_id, kind)) WITHOUT ROWID"
    )
    op.execute(
        f"CREATE TABLE {CHANGES} ("
        "entity_id VARCHAR(255) NOT NULL, kind VARCHAR(16) NOT NULL, "
        "item_id VARCHAR(64) NOT NULL, seq INTEGER NOT NULL, "
        f"CONSTRAINT {CHANGES}_pk PRIMARY KEY (entity_id, kind, item_id)) WITHOUT ROWID"
    )
    op.execute(f"CREATE INDEX {CHANGES}_seq_idx ON {CHANGES} (entity_id, kind, seq)")
    for table, (kind, _) in WATCHED.items():
        op.execute(
            f"INSERT INTO {VERSIONS} (entity_id, kind, version) "
            f"SELECT entity_id, '{kind}', {START} FROM (SELECT DISTINCT entity_id FROM {table})"
        )
        create_triggers(table)


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in WATCHED:
        drop_triggers(table)
    op.execute(f"DROP TABLE IF EXISTS {CHANGES}")
    op.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
