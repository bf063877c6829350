"""The SQLite store's in-process copy of an entity: its vectors and its items, kept current.

For each (kind, entity) searched, the accelerator keeps a ``VectorSet`` (when it has
vectors) and an ``ItemSet`` (the items and their words), each labelled with the
entity version of revision 0004 that it matches. A search reads the current
version first (one indexed row), then uses each set at that version: brought
forward by re-reading the items the change log names when it is behind by at most
``CHANGE_LOG_KEEP`` changes, else rebuilt by one scan. Because the version is read
before anything else, a set is never labelled newer than what it holds; every
writer, in any process, advances the version in its own transaction (triggers of
revisions 0004 and 0005), so no change is missed. An entity too large for a cache
(more than half its bound) is searched in SQL instead, and so are an entity's first
few searches for items (``item_admit_after``): a short-lived process making one
call never pays for reading the whole entity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Connection

from memori.backends.sqlite import versions
from memori.backends.sqlite.audience import AudienceColumns, BoolArray
from memori.backends.sqlite.item_set import Item, ItemSet
from memori.backends.sqlite.set_cache import CachedSet, SetCache
from memori.backends.sqlite.versions import Key, Kind, read_items

if TYPE_CHECKING:
    from memori.backends.sqlite.accelerator import Accelerator

S = TypeVar("S", bound=CachedSet)
T = TypeVar("T")
Build = Callable[[Connection, Kind, str, int], S]
"""Builds a set of (kind, entity) at a version from one scan."""
CatchUp = Callable[[Connection, Kind, str, S, Sequence[str]], None]
"""Applies the changed item ids to a set (held locked)."""


MaskOf = Callable[[AudienceColumns], BoolArray]
"""Selects the rows of a set that a scope may see (see ``audience``)."""


@dataclass
class EntityView:
    """One search's look at an entity's sets of one kind (``version`` None: no rows).

    Its answers are None when the sets are not cached (too big, or not yet asked for
    often enough): the caller then searches in SQL.
    """

    cache: Accelerator
    log: ChangeLog
    version: int | None
    _items: ItemSet | None = field(default=None, init=False)
    _items_known: bool = field(default=False, init=False)

    def item_set(self) -> ItemSet | None:
        """The items at this version, None when they are not cached (too many)."""
        if not self._items_known:
            self._items_known = True
            if self.cache.items is not None and self.version is not None:
                self._items = _current(self.cache.items, self.log, self.version,
                                       self.cache.build_items, self.cache.catch_up_items)
        return self._items

    def best_by_text(
        self, mask_of: MaskOf, terms: Sequence[str], k: int,
    ) -> list[tuple[Item, float]] | None:
        """``(item, bm25)`` best first."""
        return self._with_items(lambda found: found.best_by_text(terms, mask_of(found), k))

    def nearest(
        self, mask_of: MaskOf, query: npt.NDArray[np.float32], k: int,
    ) -> list[tuple[Item, float]] | None:
        """``(item, cosine)`` best first; the items come from the item set when it is
        cached, else are read by primary key."""
        if self.version is None:
            return []
        if self.cache.vectors is None:
            return None
        found = _current(self.cache.vectors, self.log, self.version,
                         self.cache.build_vectors, self.cache.catch_up_vectors)
        if found is None:
            return None
        with found.lock:
            nearest = found.nearest(query, mask_of, k)
        if not nearest:
            return []
        ids = [i for i, _ in nearest]
        held = self._with_items(lambda items: [items.get(i) for i in ids])
        if held is None:
            kind, entity_id = self.log.kind, self.log.entity_id
            read = read_items(self.log.conn, self.cache.tables[kind], entity_id,
                              self.cache.to_model[kind], ids)
            by_id = {item.id: item for item in read}
            held = [by_id.get(i) for i in ids]
        return [(item, cos) for item, (_, cos) in zip(held, nearest, strict=True)
                if item is not None]

    def pinned(self, mask_of: MaskOf) -> list[Item] | None:
        """The pinned items of the scope, oldest first."""
        return self._with_items(lambda found: found.pinned(mask_of(found)))

    def latest(self, mask_of: MaskOf, limit: int) -> list[Item] | None:
        """The latest ``limit`` items of the scope, oldest first."""
        return self._with_items(lambda found: found.latest(mask_of(found), limit))

    def _with_items(self, read: Callable[[ItemSet], list[T]]) -> list[T] | None:
        """``read(items)`` under the set's lock; [] when the entity has no rows of this
        kind, None when its items are not cached."""
        if self.version is None:
            return []
        found = self.item_set()
        if found is None:
            return None
        with found.lock:
            return read(found)


class ChangeLog:
    """The change log of one (kind, entity) as one search or refresh reads it: each
    starting version is read once, so the vector and item sets, usually at the same
    version, share one read."""

    def __init__(self, conn: Connection, kind: Kind, entity_id: str) -> None:
        self.conn = conn
        self.kind = kind
        self.entity_id = entity_id
        self._since: dict[int, list[str] | None] = {}

    def since(self, version: int) -> list[str] | None:
        """Ids of the items changed after ``version``; None when the log no longer
        reaches back to it (pruned, or another counter's)."""
        if version not in self._since:
            changed = versions.changed_since(self.conn, self.kind, self.entity_id, version)
            latest = versions.read_version(self.conn, self.kind, self.entity_id)
            pruned = latest is None or latest - versions.CHANGE_LOG_KEEP > version
            self._since[version] = None if pruned else changed  # pruned while we read?
        return self._since[version]


def _current(
    cache: SetCache[S], log: ChangeLog, version: int, build: Build[S], catch_up: CatchUp[S],
) -> S | None:
    """The set of (kind, entity) at ``version`` (or newer), None when too big to cache."""
    key: Key = (log.kind, log.entity_id)
    found = cache.get(key)
    if found is not None:
        with found.lock:
            ahead = found.version - version
            if ahead < 0 and _caught_up(log, found, version, catch_up):
                cache.caught_up(key, found)
                ahead = 0
            if 0 <= ahead <= versions.CHANGE_LOG_KEEP:  # ahead: another search moved it
                return found
    if cache.oversized(key, version) or not cache.admit(key):
        return None
    discards = cache.discards  # a forget committed after this may not be in the scan
    built = build(log.conn, log.kind, log.entity_id, version)
    return built if cache.put(key, built, discards=discards) else None


def catch_up_held(
    cache: SetCache[S], log: ChangeLog, version: int, catch_up: CatchUp[S],
) -> None:
    key: Key = (log.kind, log.entity_id)
    found = cache.get(key)
    if found is None:
        return
    with found.lock:
        if found.version < version and _caught_up(log, found, version, catch_up):
            cache.caught_up(key, found)


def _caught_up(log: ChangeLog, found: S, version: int, catch_up: CatchUp[S]) -> bool:
    """Bring ``found`` (held locked) to ``version`` from the change log; False if the
    log no longer reaches back to the set's version."""
    behind = version - found.version
    if not 0 < behind <= versions.CHANGE_LOG_KEEP or behind > max(64, len(found) // 2):
        return False
    changed = log.since(found.version)
    if changed is None:
        return False
    catch_up(log.conn, log.kind, log.entity_id, found, changed)
    found.version = version
    return True
