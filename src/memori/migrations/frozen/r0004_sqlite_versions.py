"""Revision 0004's entity versions and change log triggers (frozen).

Revision 0005 re-creates the update triggers from :func:`record` and restores
0004's with :func:`create_triggers` on downgrade. Like the FTS triggers of 0002,
a later revision that rebuilds either base table in batch mode drops these
triggers and re-runs :func:`create_triggers` (or its own successor) afterwards.
"""

from __future__ import annotations

from alembic import op

VERSIONS = "memori_entity_versions"
CHANGES = "memori_entity_changes"
KEEP = 4096
"""Changes kept per entity and kind (the store's change-log window when 0004 was released)."""
START = "abs(random() % 4611686018427387904)"
"""A random first version in [0, 2**62): far from any value an older counter reached."""
WATCHED = {
    "memori_turns": (
        "turns", "entity_id, id, process_id, session_id, created_at, embedding"),
    "memori_memories": (
        "memories", "entity_id, id, process_id, shared, created_at, superseded_by, embedding"),
}
"""Base table -> (kind, the columns whose update counts as a change in 0004)."""


def record(kind: str, ref: str) -> str:
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


def drop_triggers(table: str) -> None:
    for suffix in ("ai", "ad", "au", "au_old"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{suffix}")


def create_triggers(table: str) -> None:
    """(Re)create 0004's four triggers on ``table``."""
    kind, columns = WATCHED[table]
    drop_triggers(table)
    op.execute(
        f"CREATE TRIGGER {table}_version_ai AFTER INSERT ON {table} "
        f"BEGIN {record(kind, 'new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_ad AFTER DELETE ON {table} "
        f"BEGIN {record(kind, 'old')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_au AFTER UPDATE OF {columns} ON {table} "
        f"BEGIN {record(kind, 'new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_version_au_old AFTER UPDATE OF entity_id, id ON {table} "
        "WHEN old.entity_id IS NOT new.entity_id OR old.id IS NOT new.id "
        f"BEGIN {record(kind, 'old')} END"
    )
