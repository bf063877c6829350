"""SQLite entity versions advance on an update of any column, not only the searched ones.

Revision 0004 counted changes to the columns vector search reads. The store now
also keeps whole items in process (text search, hits, a session's latest turns),
so a change to content, metadata, counts or extraction state must move the
version too. This revision re-creates the update triggers of 0004 without a
column list; inserts and deletes are unchanged. Downgrade restores 0004's.
It reuses 0004's frozen helpers (``memori.migrations.frozen.r0004_sqlite_versions``).
No-op on every other dialect.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from memori.migrations.frozen import r0004_sqlite_versions as v4

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def upgrade() -> None:
    if not _is_sqlite():
        return
    for table, (kind, _columns) in v4.WATCHED.items():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version_au")
        op.execute(
            f"CREATE TRIGGER {table}_version_au AFTER UPDATE ON {table} "
            f"BEGIN {v4.record(kind, 'new')} END"
        )


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in v4.WATCHED:
        v4.create_triggers(table)
