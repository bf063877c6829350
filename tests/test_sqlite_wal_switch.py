"""Switching a new SQLite file to WAL waits out another process's write, and only that."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from memori.backends.sqlite.connection import _is_busy, _use_wal


def _locked_file(path: Path) -> sqlite3.Connection:
    """A rollback-journal file with another connection inside a write (an exclusive lock)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    return holder


def test_the_switch_waits_for_the_other_writer_and_then_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    holder = _locked_file(path)
    threading.Timer(0.15, lambda: holder.execute("COMMIT")).start()
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    began = time.monotonic()
    _use_wal(conn.cursor(), timeout=5.0)
    assert time.monotonic() - began >= 0.1  # it waited for the commit...
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # ...then switched
    conn.close()
    holder.close()


def test_a_writer_that_does_not_finish_in_time_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    holder = _locked_file(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked") as raised:
        _use_wal(conn.cursor(), timeout=0.05)
    assert _is_busy(raised.value)
    conn.close()
    holder.close()


def test_other_errors_are_raised_at_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db")
    cur = conn.cursor()
    conn.close()
    began = time.monotonic()
    with pytest.raises(sqlite3.ProgrammingError):
        _use_wal(cur, timeout=5.0)
    assert time.monotonic() - began < 1.0


class _CodedError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.sqlite_errorcode = code


@pytest.mark.parametrize(("error", "busy"), [
    (_CodedError("database is locked", 5), True),          # SQLITE_BUSY
    (_CodedError("database table is locked", 6), True),    # SQLITE_LOCKED
    (_CodedError("x", 5 | (2 << 8)), True),                # SQLITE_BUSY_SNAPSHOT (extended)
    (_CodedError("busy doing something else", 10), False),  # SQLITE_IOERR: the code decides
    (Exception("database is locked"), True),               # no code: the text decides
    (Exception("disk I/O error"), False),
])
def test_busy_is_read_from_the_result_code_where_there_is_one(
    error: Exception, busy: bool,
) -> None:
    assert _is_busy(error) is busy
