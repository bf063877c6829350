"""Engines and connections for SQLite: driver choice, per-connection pragmas, sqlite-vec.

Writers take the write lock up front (``BEGIN IMMEDIATE``) and wait up to
``busy_timeout``; in WAL mode readers never block, so several processes can
share one file safely.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from memori.core.errors import ConfigurationError, MissingExtraError

VectorSearch = Literal["auto", "sqlite-vec", "exact"]
VECTOR_SEARCH_MODES: tuple[str, ...] = ("auto", "sqlite-vec", "exact")
DEFAULT_BUSY_TIMEOUT_MS = 30_000
MMAP_SIZE = 256 * 1024 * 1024
"""Bytes of the file read through mmap: scans of the scope's vectors skip a copy per page."""


def _module_can_load_extensions(module: Any) -> bool:
    return hasattr(getattr(module, "Connection", None), "enable_load_extension")


def sqlite_vec_module() -> ModuleType | None:
    """The ``sqlite_vec`` package, or None when it is not installed."""
    try:
        import sqlite_vec
    except ImportError:
        return None
    module: ModuleType = sqlite_vec
    return module


def extension_driver() -> ModuleType | None:
    """A DB-API sqlite module that can load extensions: stdlib if it can, else pysqlite3."""
    if _module_can_load_extensions(sqlite3):
        return sqlite3
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        return None
    return dbapi2 if _module_can_load_extensions(dbapi2) else None


def choose_driver(mode: str, *, vectors: bool) -> tuple[ModuleType, bool]:
    """The DB-API module for a URL and whether sqlite-vec will be loaded into it."""
    if mode not in VECTOR_SEARCH_MODES:
        raise ConfigurationError(
            f"vector_search must be one of {', '.join(VECTOR_SEARCH_MODES)}, got {mode!r}"
        )
    if mode == "exact" or not vectors:
        return sqlite3, False
    driver = extension_driver()
    if driver is not None and sqlite_vec_module() is not None:
        return driver, True
    if mode == "sqlite-vec":
        raise MissingExtraError("sqlite-vec", "vector_search='sqlite-vec'")
    return sqlite3, False


def load_sqlite_vec(dbapi_conn: Any) -> bool:
    """Load sqlite-vec into one DB-API connection; False when the module cannot."""
    vec = sqlite_vec_module()
    if vec is None or not hasattr(dbapi_conn, "enable_load_extension"):
        return False
    try:
        dbapi_conn.enable_load_extension(True)
        try:
            vec.load(dbapi_conn)
        finally:
            dbapi_conn.enable_load_extension(False)
    except Exception:  # an extension that will not load means: use the exact scan
        return False
    return True


def has_sqlite_vec(dbapi_conn: Any) -> bool:
    """Whether ``vec_distance_cosine`` is callable on this connection."""
    try:
        dbapi_conn.execute("SELECT vec_version()").fetchone()
    except Exception:
        return False
    return True


SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def _is_busy(error: Exception) -> bool:
    """Whether ``error`` is SQLite's "busy" or "locked": by its result code where the
    driver gives one (``sqlite_errorcode``, Python 3.11's sqlite3 and drivers built
    from it; extended codes keep the primary one in their low byte), else by its text."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    text = str(error)
    return "locked" in text or "busy" in text


def _use_wal(cur: Any, timeout: float) -> None:
    """Switch the file to WAL unless it is (or is in memory). On a file still in its
    first journal mode (one another process is creating), the switch fails at once while
    that process writes: SQLite does not wait there as ``busy_timeout`` waits elsewhere.
    So it is tried again, with short sleeps, until the other process is done (it may
    have switched the file itself) or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            mode = str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode not in ("wal", "memory"):
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as e:  # the DB-API's OperationalError (sqlite3 or pysqlite3)
            if not _is_busy(e) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@dataclass
class ConnectionSetup:
    """Applies memori's per-connection settings once per pooled DB-API connection."""

    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    wal: bool = True
    load_vec: bool = False

    def prepare(self, dbapi_conn: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            cur.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed, not freed
            in_tx = bool(getattr(dbapi_conn, "in_transaction", False))
            if self.wal and not in_tx:
                _use_wal(cur, self.busy_timeout_ms / 1000.0)
            if self.wal:
                cur.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
            if not in_tx:
                cur.execute("PRAGMA synchronous = NORMAL")
                cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()
        if self.load_vec and not has_sqlite_vec(dbapi_conn):
            load_sqlite_vec(dbapi_conn)

    def on_checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if not record.info.get("memori_prepared"):
            self.prepare(dbapi_conn)
            record.info["memori_prepared"] = True

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "checkout", self.on_checkout)

    def detach(self, engine: Engine) -> None:
        if event.contains(engine, "checkout", self.on_checkout):
            event.remove(engine, "checkout", self.on_checkout)


def is_memory_url(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or str(url.database).startswith("file::memory:")


def engine_from_url(url: str | URL, driver: ModuleType) -> Engine:
    """An engine for a ``sqlite://`` URL on the chosen DB-API module.

    In-memory databases get one shared connection (StaticPool) so every thread
    sees the same data; files get a normal pool of per-thread connections.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ConfigurationError(f"not a sqlite URL: {parsed.drivername}")
    parsed = parsed.set(drivername="sqlite+pysqlite")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if driver is not sqlite3:
        kwargs["module"] = driver
    if is_memory_url(parsed):
        kwargs["poolclass"] = StaticPool
    return create_engine(parsed, **kwargs)


def engine_from_connection(dbapi_conn: Any) -> Engine:
    """An engine over the caller's DB-API connection (never closed nor rolled back by us)."""
    module = type(dbapi_conn).__module__
    kwargs: dict[str, Any] = {}
    if module.startswith("pysqlite3"):
        from pysqlite3 import dbapi2

        kwargs["module"] = dbapi2
    return create_engine(
        "sqlite+pysqlite://", creator=lambda: dbapi_conn, poolclass=StaticPool,
        pool_reset_on_return=None, **kwargs,
    )


def uses_shared_connection(engine: Engine) -> bool:
    """Whether every checkout returns the same DB-API connection (needs a lock)."""
    return isinstance(engine.pool, StaticPool)


def dbapi_of(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def driver_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of ``sql`` as the driver returns them, run on the driver's own cursor:
    no SQLAlchemy per-statement or per-row work (reads on the search path, scans)."""
    cursor = dbapi_of(conn).cursor()
    try:
        return list(cursor.execute(sql, params).fetchall())
    finally:
        cursor.close()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside ``BEGIN IMMEDIATE``: the write lock is taken before any read."""
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if getattr(dbapi_of(conn), "in_transaction", True):
                with contextlib.suppress(Exception):  # SQLite may have rolled back already
                    conn.exec_driver_sql("ROLLBACK")
            conn.rollback()
            raise
        conn.exec_driver_sql("COMMIT")
        conn.commit()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection for reads (one snapshot per statement; WAL never blocks readers)."""
    with engine.connect() as conn:
        yield conn
