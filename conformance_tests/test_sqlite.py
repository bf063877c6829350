"""The conformance suite against the SQLite backend, on both vector search paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memori.backends.sqlite.connection import extension_driver, sqlite_vec_module
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.conformance import StoreConformance

HAS_SQLITE_VEC = extension_driver() is not None and sqlite_vec_module() is not None


class TestSQLiteExact(StoreConformance):
    """Stock sqlite3 path: vectors ranked by an exact numpy scan of the scope's rows."""

    vector_search = "exact"

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("sqlite-conformance") / "memori.db"

    @pytest.fixture
    def make_store(self, lifespan: Path) -> Callable[..., SQLiteStore]:
        def factory(**options: Any) -> SQLiteStore:
            options.setdefault("vector_search", self.vector_search)
            return open_store(f"sqlite:///{lifespan}", **options)

        return factory


@pytest.mark.skipif(not HAS_SQLITE_VEC, reason="no sqlite3 module here can load sqlite-vec")
class TestSQLiteVec(TestSQLiteExact):
    """pysqlite3 path: vectors ranked by sqlite-vec's vec_distance_cosine inside SQLite."""

    vector_search = "sqlite-vec"
