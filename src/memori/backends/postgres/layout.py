"""The shared SQL layout as the PostgreSQL store queries it (types, search columns, names).

The tables come from ``memori.backends.sql.tables`` with JSONB and pgvector
columns; revision 0003 adds the ``search_tsv`` column this module declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine, UserDefinedType

from memori.backends.postgres.vectors import from_text
from memori.backends.sql.tables import Tables, build_tables
from memori.core.errors import ConfigurationError

SEARCH_COLUMN = "search_tsv"
MAX_IDENTIFIER = 63


class VectorType(UserDefinedType[Any]):
    """pgvector's ``vector`` (``vector(dim)`` with a dimension): bound as text with a cast,
    read back as a tuple of floats."""

    cache_ok = True

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def get_col_spec(self, **kw: Any) -> str:
        return "vector" if self.dim is None else f"vector({int(self.dim)})"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(bindvalue, self)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return from_text


class TsVectorType(UserDefinedType[Any]):
    """``tsvector``, bound as its input text (computed by the store) with a cast."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "tsvector"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(bindvalue, self)


class TsQueryType(UserDefinedType[Any]):
    """``tsquery``, bound as its input text (quoted words) with a cast."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "tsquery"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(bindvalue, self)


VECTOR: TypeEngine[Any] = VectorType()
TSVECTOR: TypeEngine[Any] = TsVectorType()
TSQUERY: TypeEngine[Any] = TsQueryType()


def check_schema_name(schema: Any) -> str | None:
    """A schema name is an identifier of 1..63 characters without NUL (None: the default)."""
    if schema is None:
        return None
    if type(schema) is not str or not schema or len(schema) > MAX_IDENTIFIER or "\x00" in schema:
        raise ConfigurationError("schema must be a str of 1..63 characters without NUL")
    return schema


@dataclass(frozen=True)
class Layout:
    """The tables of one store (in its schema) plus quoting helpers for raw DDL."""

    schema: str | None
    tables: Tables

    @property
    def turns(self) -> Table:
        return self.tables.turns

    @property
    def memories(self) -> Table:
        return self.tables.memories

    @property
    def outbox(self) -> Table:
        return self.tables.outbox


def build_layout(schema: str | None) -> Layout:
    tables = build_tables(schema=schema, json_type=JSONB, vector_type=VECTOR)
    for table in (tables.turns, tables.memories):
        table.append_column(Column(SEARCH_COLUMN, TSVECTOR, nullable=True))
    return Layout(schema, tables)


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes (for DDL that cannot take parameters)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    """``"schema"."name"`` or ``"name"``."""
    return quote_ident(name) if schema is None else f"{quote_ident(schema)}.{quote_ident(name)}"
