"""The SQLite store's in-process accelerator: the one part of it the store talks to.

The store asks it to search a scope and for the latest turns of a session, and
tells it when an entity changed or was forgotten. Each answer is either complete,
every item re-checked with core's visibility rules (``Memory.visible_to``,
``Turn.visible_to``) so a row a cache got wrong is dropped, never returned, or
None / left out: bypass, SQL answers. Inside, per (kind, entity) sets of vectors
and of items are kept current through entity versions and a change log (see
``entity_cache`` and ``versions``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from memori.backends.sqlite import versions
from memori.backends.sqlite.audience import AudienceColumns, BoolArray
from memori.backends.sqlite.entity_cache import EntityCache, EntityView, MaskOf
from memori.backends.sqlite.fts import query_tokens
from memori.backends.sqlite.item_set import Item
from memori.backends.sqlite.versions import Kind
from memori.core.models import Memory, Scope, Turn
from memori.core.scores import cosine_score

Ranked = list[tuple[Item, float]]
"""``(item, score)`` best first, scores in [0, 1] as the SQL paths give them."""
log = logging.getLogger("memori.sqlite")


class Accelerator:
    """Searches and reads served in process when the entity's sets are cached."""

    def __init__(
        self, *, read: Callable[[], AbstractContextManager[Connection]],
        tables: dict[Kind, Table], to_model: dict[Kind, Callable[[Any], Item]],
        dim: int | None, vector_items: int, item_items: int, item_admit_after: int,
    ) -> None:
        """``read`` opens a read transaction (for ``changed``); a bound of 0 turns
        that cache off (both off: every call bypasses)."""
        self._read = read
        self._sets = EntityCache(
            tables=tables, to_model=to_model, dim=dim, vector_items=vector_items,
            item_items=item_items, item_admit_after=item_admit_after,
        ) if vector_items > 0 or item_items > 0 else None

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

    def changed(self, kind: Kind, entity_ids: Iterable[str]) -> None:
        """After a write: bring the cached sets of these entities forward now, in the
        writer's thread (the recorder, the extraction worker), so the next search,
        often on a caller's critical path, has nothing to catch up. Best effort: the
        write is committed, and a search catches up by itself anyway."""
        sets = self._sets
        held = [] if sets is None else [e for e in entity_ids if sets.holds(kind, e)]
        if sets is None or not held:
            return
        try:
            with self._read() as conn:
                for entity_id in held:
                    sets.refresh(conn, kind, entity_id)
        except Exception as e:  # the next search catches up (or reports) by itself
            log.debug("memori: refreshing the SQLite caches failed (%s)", type(e).__name__)

    def delete_log(self, conn: Connection, entity_id: str) -> None:
        """In ``forget``'s transaction, after its deletes (their triggers log): drop
        the entity's versions and change log."""
        versions.delete_entity(conn, entity_id)

    def forget(self, entity_id: str) -> None:
        """After ``forget`` committed: drop every set of the entity."""
        if self._sets is not None:
            self._sets.discard(entity_id)

    def log_rows(self, conn: Connection, entity_id: str) -> int:
        """The entity's version and change-log rows (part of ``raw_count``)."""
        return versions.count_rows(conn, entity_id)

    def holds(self, kind: Kind, entity_id: str) -> bool:
        """Whether any set of (kind, entity) is cached."""
        return self._sets is not None and self._sets.holds(kind, entity_id)

    def stats(self) -> dict[str, Any]:
        sets = self._sets
        return {
            "vector_cache": None if sets is None or sets.vectors is None
            else sets.vectors.stats(),
            "item_cache": None if sets is None or sets.items is None else sets.items.stats(),
        }

    def close(self) -> None:
        if self._sets is not None:
            self._sets.clear()

    def _view(self, conn: Connection, kind: Kind, entity_id: str) -> EntityView | None:
        return None if self._sets is None else self._sets.view(conn, kind, entity_id)


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
