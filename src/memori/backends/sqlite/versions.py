"""The SQL the in-process accelerator reads: entity versions, change log and scans.

Triggers (revision 0004) advance an (entity, kind) version by one for every change
to one of its rows that vector search could see, and note the version of each
item's last change, in the writer's own transaction, whoever wrote it. No version
row means the entity has no rows of that kind (forget deletes both together). The
scans read an entity's vectors and items (without vectors) to build its sets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect

from memori.backends.sql.tables import MEMORIES, TURNS
from memori.backends.sqlite.connection import driver_rows
from memori.backends.sqlite.search import item_columns
from memori.backends.sqlite.vector_set import RowTuple

VERSIONS = "memori_entity_versions"
CHANGES = "memori_entity_changes"
CHANGE_LOG_KEEP = 4096
"""Changes the log keeps per entity and kind (the KEEP of revision 0004)."""
Kind = Literal["turns", "memories"]
KINDS: tuple[Kind, ...] = ("turns", "memories")
Key = tuple[Kind, str]
"""``(kind, entity_id)``."""
CHUNK = 400
T = TypeVar("T")


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
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


_SCANS: dict[Kind, str] = {
    "turns": (
        f"SELECT id, created_at, process_id, session_id, 0, 0, embedding FROM {TURNS} "
        "WHERE entity_id = ? AND embedding IS NOT NULL AND length(embedding) = ?"
    ),
    "memories": (
        "SELECT id, created_at, process_id, NULL, shared, superseded_by IS NOT NULL, "
        f"embedding FROM {MEMORIES} "
        "WHERE entity_id = ? AND embedding IS NOT NULL AND length(embedding) = ?"
    ),
}


def scan_vectors(
    conn: Connection, kind: Kind, entity_id: str, nbytes: int,
    ids: Sequence[str] | None = None,
) -> list[RowTuple]:
    """Rows of the entity (only ``ids`` if given) with a vector of ``nbytes`` bytes,
    as VectorRow fields."""
    rows: list[RowTuple] = _rows_by_id(conn, _SCANS[kind], (entity_id, nbytes), ids)
    return rows


def _rows_by_id(
    conn: Connection, sql: str, params: tuple[Any, ...], ids: Sequence[str] | None,
) -> list[Any]:
    """The driver rows of ``sql``; with ``ids``, only those whose id is one of them
    (``sql`` ends in a WHERE clause; ids go in ``IN`` lists of ``CHUNK``)."""
    if ids is None:
        return driver_rows(conn, sql, params)
    rows: list[Any] = []
    for part in _chunks(ids):
        marks = ", ".join("?" * len(part))
        rows.extend(driver_rows(conn, f"{sql} AND id IN ({marks})", (*params, *part)))
    return rows


@functools.lru_cache(maxsize=16)
def row_reader(
    dialect: Dialect, table: Table
) -> tuple[str, Callable[[Any], dict[str, Any]]]:
    """The column list of ``table`` (its vector left out) and a function turning a
    driver row into a mapping.

    Values go through each column type's own result processor (JSON decoding...),
    as SQLAlchemy would apply them, without its per-statement overhead.
    """
    columns = item_columns(table)
    names = [c.name for c in columns]
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                  for c in columns]

    def read(raw: Any) -> dict[str, Any]:
        return {name: value if proc is None else proc(value)
                for name, proc, value in zip(names, processors, raw, strict=True)}

    return ", ".join(names), read


def read_items(
    conn: Connection, table: Table, entity_id: str, to_model: Callable[[Any], T],
    ids: Sequence[str] | None = None,
) -> list[T]:
    """Items of the entity (only ``ids`` if given), read without their vectors."""
    columns, read = row_reader(conn.dialect, table)
    sql = f"SELECT {columns} FROM {table.name} WHERE entity_id = ?"  # names from the schema
    return [to_model(read(r)) for r in _rows_by_id(conn, sql, (entity_id,), ids)]
