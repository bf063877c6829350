"""Entity versions (revision 0004): how an in-process vector cache knows it is current.

Triggers give an (entity, kind) a fresh random version in the same transaction as
any change to its rows that vector search could see, whoever wrote it. No version
row means the entity has no rows of that kind (forget deletes both together).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from sqlalchemy.engine import Connection

TABLE = "memori_entity_versions"
Kind = Literal["turns", "memories"]
KINDS: tuple[Kind, ...] = ("turns", "memories")
Key = tuple[Kind, str]
"""``(kind, entity_id)``."""
CHUNK = 400


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def read_version(conn: Connection, kind: Kind, entity_id: str) -> int | None:
    """The current version of ``(kind, entity_id)``, None when it has no rows."""
    value = conn.exec_driver_sql(
        f"SELECT version FROM {TABLE} WHERE entity_id = ? AND kind = ?", (entity_id, kind)
    ).scalar()
    return None if value is None else int(value)


def read_versions(conn: Connection, entity_ids: Iterable[str]) -> dict[Key, int]:
    """Versions of every kind of the given entities (keys without rows are absent)."""
    out: dict[Key, int] = {}
    for part in _chunks(list(dict.fromkeys(entity_ids))):
        marks = ", ".join("?" * len(part))
        rows = conn.exec_driver_sql(
            f"SELECT kind, entity_id, version FROM {TABLE} WHERE entity_id IN ({marks})",
            tuple(part),
        )
        for kind, entity_id, version in rows:
            if kind in KINDS:
                out[(kind, str(entity_id))] = int(version)
    return out


def delete_versions(conn: Connection, entity_id: str) -> None:
    """Drop the entity's version rows (``forget``: the entity then has no rows at all)."""
    conn.exec_driver_sql(f"DELETE FROM {TABLE} WHERE entity_id = ?", (entity_id,))


def count_versions(conn: Connection, entity_id: str) -> int:
    """Version rows of the entity (part of ``raw_count``)."""
    return int(conn.exec_driver_sql(
        f"SELECT count(*) FROM {TABLE} WHERE entity_id = ?", (entity_id,)
    ).scalar_one())
