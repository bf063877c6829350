"""One JSON file per entity, named by a hash of the id, replaced atomically under a lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EntityData = dict[str, Any]
"""``{"entity_id": str, "turns": {id: record}, "memories": {id: record}}``."""


def empty(entity_id: str) -> EntityData:
    return {"entity_id": entity_id, "turns": {}, "memories": {}}


class EntityFiles:
    """The directory of entity files. Thread- and process-safe per file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()

    def path(self, entity_id: str) -> Path:
        digest = hashlib.sha256(entity_id.encode("utf-8")).hexdigest()
        return self.root / f"{digest}.json"

    @contextmanager
    def _flock(self, path: Path, exclusive: bool) -> Iterator[None]:
        """One lock for the directory (simple, and leaves no per-entity trace)."""
        del path
        with self._lock, open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self, entity_id: str) -> EntityData:
        path = self.path(entity_id)
        with self._flock(path, exclusive=False):
            return self._load(path, entity_id)

    @staticmethod
    def _load(path: Path, entity_id: str) -> EntityData:
        try:
            data: EntityData = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return empty(entity_id)
        if data.get("entity_id") != entity_id:  # a hash collision: refuse, never mix
            raise RuntimeError("entity file does not belong to this entity")
        return data

    def update(self, entity_id: str, change: Callable[[EntityData], Any]) -> Any:
        """Read, apply ``change`` in place, write back atomically; returns what it returned."""
        path = self.path(entity_id)
        with self._flock(path, exclusive=True):
            data = self._load(path, entity_id)
            result = change(data)
            if data["turns"] or data["memories"]:
                fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, ensure_ascii=False)
                os.replace(tmp, path)
            else:
                path.unlink(missing_ok=True)
            return result

    def remove(self, entity_id: str) -> None:
        path = self.path(entity_id)
        with self._flock(path, exclusive=True):
            path.unlink(missing_ok=True)

    def all_entities(self) -> list[EntityData]:
        out: list[EntityData] = []
        for path in sorted(self.root.glob("*.json")):
            try:
                data: EntityData = json.loads(path.read_text("utf-8"))
            except FileNotFoundError:
                continue
            out.append(data)
        return out
