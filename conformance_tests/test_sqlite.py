"""The conformance suite against the SQLite backend: both vector paths, cache on and off.

Search normally runs on the store's in-process caches (each entity's vectors in numpy
arrays, and its items with their words), kept current through entity versions. The
exact-path classes cache items from an entity's first search, the sqlite-vec ones
after the default few searches (both paths mixed); the ``NoCache`` classes switch
both caches off so the SQL paths themselves are proven too.
"""

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
    """Stock sqlite3 driver, vectors searched through the in-process vector cache."""

    vector_search = "exact"
    vector_cache_items: int | None = None  # the default bound
    item_cache_items: int | None = None
    item_cache_after: int | None = 0

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("sqlite-conformance") / "memori.db"

    @pytest.fixture
    def make_store(self, lifespan: Path) -> Callable[..., SQLiteStore]:
        def factory(**options: Any) -> SQLiteStore:
            options.setdefault("vector_search", self.vector_search)
            options.setdefault("vector_cache_items", self.vector_cache_items)
            for name in ("item_cache_items", "item_cache_after"):
                if getattr(self, name) is not None:
                    options.setdefault(name, getattr(self, name))
            return open_store(f"sqlite:///{lifespan}", **options)

        return factory


class TestSQLiteExactNoCache(TestSQLiteExact):
    """Stock sqlite3 path without the caches: an exact numpy scan of the scope's rows
    and FTS5."""

    vector_cache_items = 0
    item_cache_items = 0


@pytest.mark.skipif(not HAS_SQLITE_VEC, reason="no sqlite3 module here can load sqlite-vec")
class TestSQLiteVec(TestSQLiteExact):
    """pysqlite3 driver with sqlite-vec loaded, vectors searched through the cache."""

    vector_search = "sqlite-vec"
    item_cache_after = None  # the default


@pytest.mark.skipif(not HAS_SQLITE_VEC, reason="no sqlite3 module here can load sqlite-vec")
class TestSQLiteVecNoCache(TestSQLiteVec):
    """pysqlite3 path without the caches: vec_distance_cosine inside SQLite and FTS5."""

    vector_cache_items = 0
    item_cache_items = 0
