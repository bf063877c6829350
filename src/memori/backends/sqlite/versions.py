"""Entity versions and change log (revision 0004): how the vector cache stays current.

Triggers advance an (entity, kind) version by one for every change to one of its
rows that vector search could see, and note the version of each item's last
change, in the writer's own transaction, whoever wrote it. No version row means
the entity has no rows of that kind (forget deletes both together).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from sqlalchemy.engine import Connection

from memori.backends.sqlite.connection import driver_rows

VERSIONS = "memori_entity_versions"
CHANGES = "memori_entity_changes"
CHANGE_LOG_KEEP = 4096
"""Changes the log keeps per entity and kind (the KEEP of revision 0004)."""
Kind = Literal["turns", "memories"]
KINDS: tuple[Kind, ...] = ("turns", "memories")
Key = tuple[Kind, str]
"""``(kind, entity_id)``."""
CHUNK = 400


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_version(conn: Connection, kind: Kind, entity_id: str) -> int | None:
    """The current version of ``(kind, entity_id)``, None when it has no rows.

    Read through the driver's cursor: it runs before every cached search.
    """
    rows = driver_rows(
        conn, f"SELECT version FROM {VERSIONS} WHERE entity_id = ? AND kind = ?", (entity_id, kind)
    )
    return int(rows[0][0]) if rows else None


def changed_since(conn: Connection, kind: Kind, entity_id: str, version: int) -> list[str]:
    """Ids of the items changed after ``version`` (written, updated or deleted).

    Read through the driver's cursor: it runs whenever a cached set catches up.
    """
    rows = driver_rows(
        conn, f"SELECT item_id FROM {CHANGES} WHERE entity_id = ? AND kind = ? AND seq > ?",
        (entity_id, kind, version),
    )
    return [str(item_id) for (item_id,) in rows]


def delete_entity(conn: Connection, entity_id: str) -> None:
    """Drop the entity's versions and change log (``forget``: it then has no rows at all)."""
    for table in (CHANGES, VERSIONS):
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE entity_id = ?", (entity_id,))


def count_rows(conn: Connection, entity_id: str) -> int:
    """Version and change-log rows of the entity (part of ``raw_count``)."""
    return sum(
        int(conn.exec_driver_sql(
            f"SELECT count(*) FROM {table} WHERE entity_id = ?", (entity_id,)
        ).scalar_one())
        for table in (VERSIONS, CHANGES)
    )
