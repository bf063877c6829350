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
entities are given one below).

Like the FTS triggers of 0002, a later revision that rebuilds either base table in
batch mode drops these triggers and must re-run ``_create_triggers`` afterwards.
No-op on every other dialect.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VERSIONS = "memori_entity_versions"
CHANGES = "memori_entity_changes"
KEEP = 4096
"""Changes kept per entity and kind (memori.backends.sqlite.versions.CHANGE_LOG_KEEP)."""
START = "abs(random() % 4611686018427387904)"
"""A random first version in [0, 2**62): far from any value an older counter reached."""
WATCHED = {
    "memori_turns": (
        "turns", "entity_id, id, process_id, session_id, created_at, embedding"),
    "memori_memories": (
        "memories", "entity_id, id, process_id, shared, created_at, superseded_by, embedding"),
}
"""Base table -> (kind, the columns whose update counts as a change)."""


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _record(kind: str, ref: str) -> str:
    """Statements that advance the version and log the change of row ``ref``."""
    key = f"entity_id = {ref}.entity_id AND kind = '{kind}'"
    return (
        f"INSERT INTO {VERSIONS} (entity_id, kind, version) "
        f"VALUES ({ref}.entity_id, '{kind}', {START}) "
        "ON CONFLICT (entity_id, kind) DO UPDATE SET version = version + 1; "
        f"INSERT INTO {CHANGES} (entity_id, kind, item_id, seq) "
        f"SELECT entity_id, kind, {ref}.id, version FROM {VERSIONS} WHERE {key} "
        "ON CONFLICT (entity_id, kind, item_id) DO UPDATE SET seq = excluded.seq; "
        f"DELETE FROM {CHANGES} WHERE {key} "
        f"AND seq <= (SELECT version FROM {VERSIONS} WHERE {key}) - {KEEP};"
    )


def _drop_triggers(table: str) -> None:
    for suffix in ("ai", "ad", "au", "au_old"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{suffix}")


def _create_triggers(table: str) -> None:
    kind, columns = WATCHED[table]
    _drop_triggers(table)
    op.execute(
        f"CREATE TRIGGER {table}_version_ai AFTER INSERT ON {table} "
        f"BEGIN {_record(kind, 'new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_ad AFTER DELETE ON {table} "
        f"BEGIN {_record(kind, 'old')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_au AFTER UPDATE OF {columns} ON {table} "
        f"BEGIN {_record(kind, 'new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_au_old AFTER UPDATE OF entity_id, id ON {table} "
        "WHEN old.entity_id IS NOT new.entity_id OR old.id IS NOT new.id "
        f"BEGIN {_record(kind, 'old')} END"
    )


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
        _create_triggers(table)


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in WATCHED:
        _drop_triggers(table)
    op.execute(f"DROP TABLE IF EXISTS {CHANGES}")
    op.execute(f"DROP TABLE IF EXISTS {VERSIONS}")
