"""A local write-ahead journal: a recorded turn survives SIGKILL once ``create()`` returned.

The recorder appends each call's turns to this process's journal file (one
``write``, in the caller's thread: tens of microseconds) before it queues them,
and confirms them once the store holds them; when nothing is left unconfirmed
the file is truncated. Each process has its own file, locked (``flock``) while
the process lives. A process that opens the same store later takes over the
journal files whose lock is free (their process died), replays their
unconfirmed turns (``append_turns`` skips ids already stored, so a replay never
duplicates) and deletes them.

The journal holds no text in memory: for each unconfirmed turn it keeps the ids
that name it and where its line lies in the file, and reads the line back when it is
needed (a turn the recorder could not queue, see ``recorder``; a forget, which
rewrites the file without the forgotten turns).

The journal lives in ``<data dir>/journal/<store hash>/`` with mode 0700; the
hash is of the store's identity (its URL or connection target), which is
never written out. Turns that the store refused for good are moved to
``rejected.jsonl`` in the same directory, where ``Memori.retry()`` finds them.
Writes are not fsynced: a killed process loses nothing, a power cut may lose
the last moments (the operating system's page cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from memori.core import Turn
from memori.core.records import from_record, turn_to_record

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: liveness by pid instead
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

REJECTED = "rejected.jsonl"


def journal_dir(root: Path, identity: str) -> Path:
    """The journal directory of the store named by ``identity`` (hashed, never stored)."""
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return root / digest


class _Entry(NamedTuple):
    """An unconfirmed turn of this process's journal: whose it is and where its line lies."""

    entity_id: str
    process_id: str | None
    session_id: str | None
    offset: int
    length: int


class Journal:
    """This process's journal file for one store (thread-safe)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = directory
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        _lock(self._fd)
        self._lock = threading.Lock()
        self._open: dict[str, _Entry] = {}  # turn id -> its entry
        self._size = 0  # bytes in the file (this process alone writes it)
        self._closed = False

    def append(self, turns: Sequence[Turn]) -> None:
        """Journal turns before they are queued (raises ``OSError`` if the disk refuses)."""
        lines = [_line({"turn": turn_to_record(t)}).encode("utf-8", "surrogatepass")
                 for t in turns]
        with self._lock:
            if self._closed:
                raise RuntimeError("the journal is closed")
            _write_all(self._fd, b"".join(lines))
            offset = self._size
            for t, line in zip(turns, lines, strict=True):
                self._open[t.id] = _Entry(t.entity_id, t.process_id, t.session_id,
                                          offset, len(line))
                offset += len(line)
            self._size = offset

    def read(self, turn_ids: Iterable[str]) -> list[Turn]:
        """The unconfirmed turns among ``turn_ids``, in that order, read back from the
        file (ids confirmed or forgotten meanwhile are left out)."""
        with self._lock:
            if self._closed:
                return []
            found = [self._read_line(entry) for entry in
                     (self._open.get(turn_id) for turn_id in turn_ids) if entry is not None]
        turns = [_turn(json.loads(raw.decode("utf-8", "surrogatepass"))) for raw in found]
        return [t for t in turns if t is not None]

    def confirm(self, turn_ids: Iterable[str]) -> None:
        """The store holds these turns now: forget them (truncate when nothing is left)."""
        ids = list(turn_ids)
        with self._lock:
            if self._closed:
                return
            for turn_id in ids:
                self._open.pop(turn_id, None)
            if not self._open:
                os.ftruncate(self._fd, 0)
                self._size = 0
            else:
                done = _line({"done": ids}).encode("utf-8")
                _write_all(self._fd, done)
                self._size += len(done)

    def reject(self, turn: Turn, reason: str) -> None:
        """Move a turn the store refused for good to the rejected file (for ``retry``)."""
        record = {"turn": turn_to_record(turn), "reason": reason}
        path = self.directory / REJECTED
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _lock(fd, blocking=True)
            _write_all(fd, _line(record).encode("utf-8", "surrogatepass"))
        finally:
            os.close(fd)
        self.confirm([turn.id])

    def forget(self, entity_id: str, process_id: str | None = None,
               session_id: str | None = None) -> None:
        """Leave no text of ``entity_id`` (or only of its persona ``process_id`` and/or
        session ``session_id``) in this journal or the rejected file: this file is
        rewritten with the other unconfirmed turns only."""
        def doomed(entry: _Entry) -> bool:
            return (entry.entity_id == entity_id
                    and (process_id is None or entry.process_id == process_id)
                    and (session_id is None or entry.session_id == session_id))

        with self._lock:
            if self._closed:
                return
            kept = [(turn_id, entry, self._read_line(entry))
                    for turn_id, entry in self._open.items() if not doomed(entry)]
            os.ftruncate(self._fd, 0)
            _write_all(self._fd, b"".join(line for _, _, line in kept))
            self._open, offset = {}, 0
            for turn_id, entry, line in kept:
                self._open[turn_id] = entry._replace(offset=offset)
                offset += len(line)
            self._size = offset
        _drop_rejected(self.directory, entity_id, process_id, session_id)

    def _read_line(self, entry: _Entry) -> bytes:
        """The line of an unconfirmed turn, as written (under ``_lock``)."""
        return _read_at(self._fd, entry.offset, entry.length)

    @property
    def unconfirmed(self) -> int:
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Close the file; delete it when every turn it holds is confirmed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._open:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            os.close(self._fd)


def recover(directory: Path) -> tuple[list[Turn], list[Path]]:
    """Unconfirmed turns of journals whose process died, and those files (locked by the
    caller's process until it deletes them with :func:`discard`)."""
    turns: dict[str, Turn] = {}
    taken: list[Path] = []
    if not directory.is_dir():
        return [], []
    for path in sorted(directory.glob("*.jsonl")):
        if path.name == REJECTED:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        if not _try_lock(fd):
            os.close(fd)
            continue  # its process is alive
        _held[path] = fd
        taken.append(path)
        for turn in _read_turns(path):
            turns.setdefault(turn.id, turn)
    return list(turns.values()), taken


def rejected(directory: Path) -> list[tuple[Turn, str]]:
    """The turns the store refused for good, with the reason (oldest first)."""
    path = directory / REJECTED
    if not path.exists():
        return []
    out: list[tuple[Turn, str]] = []
    for record in _records(path):
        turn = _turn(record)
        if turn is not None:
            out.append((turn, str(record.get("reason", ""))))
    return out


def take_rejected(directory: Path) -> list[Turn]:
    """Remove the rejected file and return its turns (to be recorded again)."""
    path = directory / REJECTED
    if not path.exists():
        return []
    fd = os.open(path, os.O_RDWR)
    try:
        _lock(fd, blocking=True)
        turns = [t for t, _ in rejected(directory)]
        path.unlink()
    finally:
        os.close(fd)
    return turns


def in_grain(record: Any, process_id: str | None, session_id: str | None) -> bool:
    """Whether a turn record is of the persona and/or session named (None: any)."""
    if not isinstance(record, dict):
        return False
    return ((process_id is None or record.get("process_id") == process_id)
            and (session_id is None or record.get("session_id") == session_id))


def _drop_rejected(directory: Path, entity_id: str, process_id: str | None = None,
                   session_id: str | None = None) -> None:
    path = directory / REJECTED
    if not path.exists():
        return
    fd = os.open(path, os.O_RDWR)
    try:
        _lock(fd, blocking=True)
        kept = [r for r in _records(path)
                if not (r.get("turn", {}).get("entity_id") == entity_id
                        and in_grain(r.get("turn"), process_id, session_id))]
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        _write_all(fd, "".join(_line(r) for r in kept).encode("utf-8", "surrogatepass"))
    finally:
        os.close(fd)


def discard(paths: Iterable[Path]) -> None:
    """Delete recovered journal files once their turns are journaled again."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
        fd = _held.pop(path, None)
        if fd is not None:
            os.close(fd)


_held: dict[Path, int] = {}


def _read_turns(path: Path) -> Iterator[Turn]:
    done: set[str] = set()
    pending: dict[str, Turn] = {}
    for record in _records(path):
        if "done" in record:
            done.update(str(i) for i in record["done"])
            continue
        turn = _turn(record)
        if turn is not None:
            pending[turn.id] = turn
    for turn_id, turn in pending.items():
        if turn_id not in done:
            yield turn


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The complete lines of a journal file (a line cut by a kill is skipped)."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8", "surrogatepass"))
        except ValueError:
            log.warning("memori: skipped a damaged journal line in %s", path.name)
            continue
        if isinstance(record, dict):
            yield record


def _turn(record: dict[str, Any]) -> Turn | None:
    try:
        item = from_record(record["turn"])
    except (KeyError, TypeError, ValueError):
        log.warning("memori: skipped an unreadable journal record")
        return None
    return item if isinstance(item, Turn) else None


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _read_at(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes of the file at ``offset`` (writes append whatever the position)."""
    if hasattr(os, "pread"):
        return os.pread(fd, length, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows
    return os.read(fd, length)  # pragma: no cover


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _lock(fd: int, *, blocking: bool = False) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
