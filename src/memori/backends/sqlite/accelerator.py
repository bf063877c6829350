"""The SQLite store's in-process accelerator: the one part of it the store talks to.

The store asks it to search a scope, for the latest turns of a session and for a
scope's pinned memories, and
tells it when an entity changed or was forgotten. Each answer is either complete,
every item re-checked with core's visibility rules (``Memory.visible_to``,
``Turn.visible_to``) so a row a cache got wrong is dropped, never returned, or
None / left out: bypass, SQL answers. Inside, per (kind, entity) sets of vectors
and of items, bounded (``set_cache``), kept current through entity versions and a
change log (see ``entity_cache`` and ``versions``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from memori.backends.sqlite import versions
from memori.backends.sqlite.audience import AudienceColumns, BoolArray
from memori.backends.sqlite.entity_cache import ChangeLog, EntityView, MaskOf, catch_up_held
from memori.backends.sqlite.fts import query_tokens
from memori.backends.sqlite.item_set import Item, ItemSet
from memori.backends.sqlite.set_cache import SetCache
from memori.backends.sqlite.vector_set import VectorSet
from memori.backends.sqlite.versions import KINDS, Kind, read_items, scan_vectors
from memori.core.models import Memory, Scope, Turn
from memori.core.scores import cosine_score

Ranked = list[tuple[Item, float]]
"""``(item, score)`` best first, scores in [0, 1] as the SQL paths give them."""
logger = logging.getLogger(__name__)


class Accelerator:
    """Searches and reads served in process when the entity's sets are cached: the
    store's sets of vectors and of items, by (kind, entity)."""

    def __init__(
        self, *, read: Callable[[], AbstractContextManager[Connection]],
        tables: dict[Kind, Table], to_model: dict[Kind, Callable[[Any], Item]],
        dim: int | None, vector_items: int, item_items: int, item_admit_after: int,
    ) -> None:
        """``read`` opens a read transaction (for ``changed``); a bound of 0 turns
        that cache off (both off: every call bypasses)."""
        self._read = read
        self.tables = tables
        self.to_model = to_model
        self.dim = dim
        self.nbytes = 0 if dim is None else dim * 4
        self.vectors: SetCache[VectorSet] | None = (
            SetCache(vector_items) if vector_items > 0 and dim is not None else None)
        self.items: SetCache[ItemSet] | None = (
            SetCache(item_items, admit_after=item_admit_after) if item_items > 0 else None)
        self._shared = threading.local()  # views kept by this thread's shared reads

    @contextmanager
    def sharing(self) -> Iterator[None]:
        """Inside, this thread's searches and reads of one (kind, entity) share one view:
        its version is read once (the store's ``shared_reads``)."""
        self._shared.views = {}
        try:
            yield
        finally:
            self._shared.views = None

    def forget_shared(self) -> None:
        """Drop the views this thread keeps (it wrote: versions moved)."""
        views = getattr(self._shared, "views", None)
        if views:
            views.clear()

    def search(
        self, conn: Connection, kind: Kind, scope: Scope, *, include_superseded: bool,
        text: str | None, query: npt.NDArray[np.float32] | None, k: int,
    ) -> dict[str, Ranked]:
        """The signals answered in process: ``"text"`` (bm25) if ``text`` is given,
        ``"vector"`` (cosine) if ``query`` is; a signal left out is for SQL."""
        view = self._view(conn, kind, scope.entity_id)
        out: dict[str, Ranked] = {}
        if view is None:
            return out
        turns = kind == "turns"
        mask_of = _mask(turns, scope, include_superseded)

        def visible(item: Item) -> bool:
            return _visible(item, turns, scope, include_superseded)

        if text is not None:
            best = view.best_by_text(mask_of, query_tokens(text), k)
            if best is not None:
                # relevance_score for a positive finite bm25, inline: hits are many
                out["text"] = [(i, bm25 / (1.0 + bm25)) for i, bm25 in best if visible(i)]
        if query is not None:
            nearest = view.nearest(mask_of, query, k)
            if nearest is not None:
                out["vector"] = [(i, cosine_score(cos)) for i, cos in nearest if visible(i)]
        return out

    def latest_turns(self, conn: Connection, scope: Scope, limit: int) -> list[Turn] | None:
        """The latest ``limit`` turns of the scope, oldest first; None: bypass."""
        view = self._view(conn, "turns", scope.entity_id)
        items = None if view is None else view.latest(_mask(True, scope, False), limit)
        return None if items is None else [
            t for t in items if isinstance(t, Turn) and t.visible_to(scope)]

    def pinned_memories(self, conn: Connection, scope: Scope) -> list[Memory] | None:
        """The scope's current pinned memories, oldest first, without their vectors;
        None: bypass."""
        view = self._view(conn, "memories", scope.entity_id)
        items = None if view is None else view.pinned(_mask(False, scope, False))
        return None if items is None else [
            m for m in items if isinstance(m, Memory) and m.pinned
            and _visible(m, False, scope, False)]

    def changed(self, kind: Kind, entity_ids: Iterable[str]) -> None:
        """After a write: bring the cached sets of these entities forward now, in the
        writer's thread (the recorder, the extraction worker), so the next search,
        often on a caller's critical path, has nothing to catch up; never builds a
        set. Best effort: the write is committed, and a search catches up anyway."""
        held = [e for e in entity_ids if self.holds(kind, e)]
        if not held:
            return
        try:
            with self._read() as conn:
                for entity_id in held:
                    version = versions.read_version(conn, kind, entity_id)
                    if version is None:
                        continue
                    log = ChangeLog(conn, kind, entity_id)
                    if self.vectors is not None:
                        catch_up_held(self.vectors, log, version, self.catch_up_vectors)
                    if self.items is not None:
                        catch_up_held(self.items, log, version, self.catch_up_items)
        except Exception as e:  # the next search catches up (or reports) by itself
            logger.debug("memori: refreshing the SQLite caches failed (%s)", type(e).__name__)

    def delete_log(self, conn: Connection, entity_id: str) -> None:
        """In ``forget``'s transaction, after its deletes (their triggers log): drop
        the entity's versions and change log."""
        versions.delete_entity(conn, entity_id)

    def forget(self, entity_id: str, kinds: Sequence[Kind] = KINDS) -> None:
        """Drop the entity's sets (after ``forget`` committed: all of them)."""
        for cache in self._caches():
            cache.discard(entity_id, kinds=kinds)

    def log_rows(self, conn: Connection, entity_id: str) -> int:
        """The entity's version and change-log rows (part of ``raw_count``)."""
        return versions.count_rows(conn, entity_id)

    def holds(self, kind: Kind, entity_id: str) -> bool:
        """Whether any set of (kind, entity) is cached (cheap: no SQL)."""
        return any(cache.get((kind, entity_id)) is not None for cache in self._caches())

    def stats(self) -> dict[str, Any]:
        return {"vector_cache": None if self.vectors is None else self.vectors.stats(),
                "item_cache": None if self.items is None else self.items.stats()}

    def close(self) -> None:
        for cache in self._caches():
            cache.clear()

    def _caches(self) -> list[SetCache[Any]]:
        return [cache for cache in (self.vectors, self.items) if cache is not None]

    def _view(self, conn: Connection, kind: Kind, entity_id: str) -> EntityView | None:
        """The entity's sets of ``kind`` as of now (the version is read here, once, or
        once per shared reads); None when both caches are off.

        No version means no rows: sets still held were of an entity forgotten by
        another process (or connection), and are dropped.
        """
        if self.vectors is None and self.items is None:
            return None
        views: dict[tuple[Kind, str], EntityView] | None = getattr(self._shared, "views", None)
        if views is None:
            return self._read_view(conn, kind, entity_id)
        view = views.get((kind, entity_id))
        if view is None:
            view = views[(kind, entity_id)] = self._read_view(conn, kind, entity_id)
        return view

    def _read_view(self, conn: Connection, kind: Kind, entity_id: str) -> EntityView:
        version = versions.read_version(conn, kind, entity_id)
        if version is None and self.holds(kind, entity_id):
            self.forget(entity_id, kinds=(kind,))
        return EntityView(self, ChangeLog(conn, kind, entity_id), version)

    # building and catching up (called by the entity's view)

    def build_vectors(self, conn: Connection, kind: Kind, entity_id: str,
                      version: int) -> VectorSet:
        assert self.dim is not None
        return VectorSet(self.dim, version, scan_vectors(conn, kind, entity_id, self.nbytes))

    def catch_up_vectors(self, conn: Connection, kind: Kind, entity_id: str,
                         found: VectorSet, changed: Sequence[str]) -> None:
        rows = scan_vectors(conn, kind, entity_id, self.nbytes, ids=changed)
        found.remove(changed)
        found.upsert(rows)

    def build_items(self, conn: Connection, kind: Kind, entity_id: str,
                    version: int) -> ItemSet:
        return ItemSet(version, read_items(conn, self.tables[kind], entity_id,
                                           self.to_model[kind]))

    def catch_up_items(self, conn: Connection, kind: Kind, entity_id: str,
                       found: ItemSet, changed: Sequence[str]) -> None:
        items = read_items(conn, self.tables[kind], entity_id, self.to_model[kind], changed)
        found.remove(changed, compact=False)
        found.upsert(items)


def _mask(turns: bool, scope: Scope, include_superseded: bool) -> MaskOf:
    def mask_of(rows: AudienceColumns) -> BoolArray:
        return rows.scope_mask(turns, scope, include_superseded)

    return mask_of


def _visible(item: Item, turns: bool, scope: Scope, include_superseded: bool) -> bool:
    """Core's rules: the last check of every item the accelerator returns."""
    if turns:
        return isinstance(item, Turn) and item.visible_to(scope)
    return (isinstance(item, Memory) and item.visible_to(scope)
            and (include_superseded or item.superseded_by is None))
