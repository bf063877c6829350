"""What every plan needs to know about its store: layout, vector codec, search settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY

from memori.backends.postgres.layout import Layout
from memori.backends.postgres.vectors import VectorCodec, from_text
from memori.backends.sql.rows import MEMORY_COLUMNS, TURN_COLUMNS


@dataclass(frozen=True)
class AnnSettings:
    """When and how the HNSW index serves a vector search (``vector_index="hnsw"``)."""

    min_rows: int
    """Entities with fewer rows are searched exactly: faster, and every row is considered."""
    ef_search: int
    """``hnsw.ef_search`` for the graph scan (candidates kept before the scope filter)."""


@dataclass(frozen=True)
class Context:
    layout: Layout
    codec: VectorCodec
    ann: AnnSettings | None = None
    statements: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False)
    """Search statements built once per shape (they hold named parameters only)."""

    @property
    def vector_dim(self) -> int | None:
        return self.codec.dim


def decode_vector(value: Any) -> tuple[float, ...] | None:
    """A vector column value (already parsed by the column type, or pgvector text)."""
    if value is None or isinstance(value, tuple):
        return value
    if isinstance(value, str):
        return from_text(value)
    return tuple(float(x) for x in value)


def columns(table: Table, names: Sequence[str]) -> list[ColumnElement[Any]]:
    return [table.c[n] for n in names]


def turn_columns(table: Table) -> list[ColumnElement[Any]]:
    """The model columns of turns (never the search column)."""
    return columns(table, TURN_COLUMNS)


def memory_columns(table: Table) -> list[ColumnElement[Any]]:
    return columns(table, MEMORY_COLUMNS)


def ids_any(column: ColumnElement[Any], ids: Sequence[str]) -> ColumnElement[bool]:
    """``column = ANY(:ids)``: one array parameter, however many ids."""
    return column == any_(literal(list(ids), ARRAY(Text)))

