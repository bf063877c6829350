"""SQLite entity versions: a random token per (entity, kind) that every change renews.

``memori_entity_versions(entity_id, kind, version)``: triggers on ``memori_turns``
and ``memori_memories`` set a fresh ``random()`` version for the row's entity and
kind ('turns' or 'memories') on every insert and delete, and on every update of a
column that vector search reads, inside the writer's own transaction, whichever
process or connection wrote. A store's in-process vector cache built at version V
is current exactly while the version is still V. ``forget`` deletes the entity's
rows here too; an entity with rows always has a version row (existing entities are
given one below).

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

TABLE = "memori_entity_versions"
WATCHED = {
    "memori_turns": (
        "turns", "entity_id, id, process_id, session_id, created_at, embedding"),
    "memori_memories": (
        "memories", "entity_id, id, process_id, shared, created_at, superseded_by, embedding"),
}
"""Base table -> (kind, the columns whose update renews the version)."""


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _renew(kind: str, ref: str) -> str:
    return (
        f"INSERT INTO {TABLE} (entity_id, kind, version) "
        f"VALUES ({ref}.entity_id, '{kind}', random()) "
        "ON CONFLICT (entity_id, kind) DO UPDATE SET version = excluded.version;"
    )


def _drop_triggers(table: str) -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{suffix}")


def _create_triggers(table: str) -> None:
    kind, columns = WATCHED[table]
    _drop_triggers(table)
    op.execute(
        f"CREATE TRIGGER {table}_version_ai AFTER INSERT ON {table} BEGIN "
        f"{_renew(kind, 'new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_ad AFTER DELETE ON {table} BEGIN "
        f"{_renew(kind, 'old')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_au AFTER UPDATE OF {columns} ON {table} BEGIN "
        f"{_renew(kind, 'old')} {_renew(kind, 'new')} END"
    )


def upgrade() -> None:
    if not _is_sqlite():
        return
    op.execute(
        f"CREATE TABLE {TABLE} ("
        "entity_id VARCHAR(255) NOT NULL, kind VARCHAR(16) NOT NULL, "
        "version INTEGER NOT NULL, "
        f"CONSTRAINT {TABLE}_pk PRIMARY KEY (entity_id, kind)) WITHOUT ROWID"
    )
    for table, (kind, _) in WATCHED.items():
        op.execute(
            f"INSERT INTO {TABLE} (entity_id, kind, version) "
            f"SELECT entity_id, '{kind}', random() FROM (SELECT DISTINCT entity_id FROM {table})"
        )
        _create_triggers(table)


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in WATCHED:
        _drop_triggers(table)
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
