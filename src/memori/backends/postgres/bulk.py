"""Bulk writes through binary COPY into a temporary staging table, then one merge statement.

``COPY`` cannot upsert, so large batches are copied into a transaction-local
staging table and merged with ``INSERT ... SELECT ... ON CONFLICT``. Vectors
travel in pgvector's binary form (a dumper registered on the COPY's own cursor,
never on the caller's connection), search text as ``tsvector`` input text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from memori.backends.postgres.layout import qualified, quote_ident

MIN_ROWS = 200
"""Batches at least this large go through COPY; smaller ones use one multi-row INSERT."""

TURN_STAGE = (
    ("entity_id", "text"), ("id", "text"), ("process_id", "text"), ("session_id", "text"),
    ("role", "text"), ("content", "text"), ("created_at", "float8"), ("metadata", "jsonb"),
    ("extract_state", "text"), ("extract_attempts", "int4"), ("extract_error", "text"),
    ("embedding", "vector"), ("search_tsv", "text"),
)
MEMORY_STAGE = (
    ("entity_id", "text"), ("id", "text"), ("process_id", "text"), ("shared", "bool"),
    ("kind", "text"), ("content", "text"), ("session_id", "text"), ("created_at", "float8"),
    ("updated_at", "float8"), ("last_seen_at", "float8"), ("count", "int4"),
    ("superseded_by", "text"), ("source_turn_ids", "jsonb"), ("metadata", "jsonb"),
    ("embedding", "vector"), ("pinned", "bool"), ("expires_at", "float8"),
    ("search_tsv", "text"),
)


class VectorBytes(bytes):
    """A vector already in pgvector's binary form (``vectors.to_binary``)."""


@dataclass(frozen=True)
class CopyRows:
    """A step of a plan: create the staging table if needed and COPY ``rows`` into it.

    ``rows`` may be lazy: formatting then overlaps with the server consuming the
    COPY stream (psycopg sends it in chunks as it fills).
    """

    stage: str
    columns: tuple[tuple[str, str], ...]
    rows: Iterable[tuple[Any, ...]]

    def create_sql(self) -> str:
        cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in self.columns)
        return f"CREATE TEMP TABLE IF NOT EXISTS {quote_ident(self.stage)} ({cols}) ON COMMIT DROP"

    def copy_sql(self) -> str:
        cols = ", ".join(quote_ident(n) for n, _ in self.columns)
        return f"COPY {quote_ident(self.stage)} ({cols}) FROM STDIN (FORMAT BINARY)"

    def truncate_sql(self) -> str:
        return f"TRUNCATE {quote_ident(self.stage)}"


def merge_sql(
    schema: str | None, table: str, stage: str, columns: Sequence[tuple[str, str]],
    *, key: Sequence[str], extra_updates: Sequence[str] = (),
) -> str:
    """``INSERT INTO table SELECT ... FROM stage ON CONFLICT (key) DO UPDATE`` (last wins)."""
    names = [n for n, _ in columns]
    casts = {"search_tsv": "CAST(search_tsv AS tsvector)"}
    select_list = ", ".join(casts.get(n, quote_ident(n)) for n in names)
    updates = [f"{quote_ident(n)} = EXCLUDED.{quote_ident(n)}" for n in names if n not in key]
    updates += list(extra_updates)
    return (
        f"INSERT INTO {qualified(schema, table)} ({', '.join(quote_ident(n) for n in names)}) "
        f"SELECT {select_list} FROM {quote_ident(stage)} "
        f"ON CONFLICT ({', '.join(quote_ident(k) for k in key)}) DO UPDATE SET {', '.join(updates)}"
    )


def _vector_dumper(oid: int) -> type:
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class _VectorBinaryDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            return bytes(obj)

    _VectorBinaryDumper.oid = oid
    return _VectorBinaryDumper


def _types(step: CopyRows, vector_oid: int) -> list[int | str]:
    return [vector_oid if t == "vector" else t for _, t in step.columns]


def copy_sync(dbapi_conn: Any, step: CopyRows, vector_oid: int) -> None:
    """Run one COPY step on a psycopg (sync) connection inside the current transaction."""
    with dbapi_conn.cursor() as cur:
        cur.adapters.register_dumper(VectorBytes, _vector_dumper(vector_oid))
        cur.execute(step.create_sql())
        cur.execute(step.truncate_sql())
        with cur.copy(step.copy_sql()) as copy:
            copy.set_types(_types(step, vector_oid))
            for row in step.rows:
                copy.write_row(row)


async def copy_async(dbapi_conn: Any, step: CopyRows, vector_oid: int) -> None:
    """Run one COPY step on a psycopg async connection inside the current transaction."""
    async with dbapi_conn.cursor() as cur:
        cur.adapters.register_dumper(VectorBytes, _vector_dumper(vector_oid))
        await cur.execute(step.create_sql())
        await cur.execute(step.truncate_sql())
        async with cur.copy(step.copy_sql()) as copy:
            copy.set_types(_types(step, vector_oid))
            for row in step.rows:
                await copy.write_row(row)
