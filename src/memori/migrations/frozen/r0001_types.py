"""Revision 0001's column types (frozen): JSON and the embedding column per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, LargeBinary
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine, UserDefinedType


class PgVector(UserDefinedType[Any]):
    """pgvector's ``vector`` column for DDL (dimension-free: indexes cast per dimension)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "vector"


def json_type() -> TypeEngine[Any]:
    """JSON everywhere, JSONB on PostgreSQL."""
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def vector_ddl_type() -> TypeEngine[Any]:
    """float32 blobs on SQLite, pgvector's ``vector`` on PostgreSQL."""
    return LargeBinary().with_variant(PgVector(), "postgresql")
