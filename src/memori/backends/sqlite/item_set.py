"""One entity's turns or memories held in process: the items, who may see them, their words.

A set answers a scoped text search (BM25, see ``text_index``), hands out the items
that a vector search found, and reads a session's latest turns and a scope's pinned
memories, without SQL. Items
are kept without their embeddings (the vectors live in the ``VectorSet``), so the
items a set returns carry ``embedding=None``.

Each item has a slot. An item replaced with the same content keeps its slot; one
whose content changed gets a new slot and the old one dies (its words stay in
the postings, ignored), and the set is rebuilt once a quarter of its slots are dead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from memori.backends.sqlite.audience import AudienceColumns, BoolArray, Codes
from memori.backends.sqlite.ranking import best_slots, latest_slots
from memori.backends.sqlite.text_index import TextIndex
from memori.core.models import Memory, Turn

Item = Turn | Memory


class ItemSet(AudienceColumns):
    """The items of one (kind, entity) at one ``version`` of the database.

    Callers hold ``lock`` while reading or changing it.
    """

    def __init__(self, version: int, items: Sequence[Item] = ()) -> None:
        self.version = version
        self.lock = threading.Lock()
        self.processes = Codes()
        self.sessions = Codes()
        self._items: list[Item | None] = []
        self._slots: dict[str, int] = {}
        self._pinned: set[int] = set()
        """Slots of the pinned memories (few: read on every call of the LLM path)."""
        self._allocate_audience(len(items) + 16)
        self.text = TextIndex(self.capacity)
        self.upsert(items)

    def _used(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        return int(self._alive.shape[0])

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, item_id: str) -> Item | None:
        slot = self._slots.get(item_id)
        return None if slot is None else self._items[slot]

    # changes

    def upsert(self, items: Iterable[Item]) -> None:
        """Add or replace items by id (the last of an id wins)."""
        latest = {item.id: item for item in items}
        if not latest:
            return
        for item_id in [i for i, item in latest.items() if self._same_words(item)]:
            self._put(self._slots[item_id], latest.pop(item_id))  # words unchanged: in place
        if not latest:
            return
        self.remove(latest, compact=False)
        start = len(self._items)
        end = start + len(latest)
        if end > self.capacity:
            previous = self._audience_columns()
            self._allocate_audience(max(end, self.capacity * 2))
            for new, old in zip(self._audience_columns(), previous, strict=True):
                new[:start] = old[:start]
        for slot, item in enumerate(latest.values(), start):
            self._items.append(item)
            self._slots[item.id] = slot
            self._put(slot, item)
            self.text.add(slot, item.content)
        self._alive[start:end] = True
        self._maybe_compact()

    def _same_words(self, item: Item) -> bool:
        slot = self._slots.get(item.id)
        held = None if slot is None else self._items[slot]
        return held is not None and held.content == item.content

    def _put(self, slot: int, item: Item) -> None:
        """Hold ``item`` in ``slot`` (its words are indexed by the caller)."""
        self._items[slot] = item
        self._created[slot] = item.created_at
        self._process[slot] = self.processes.encode(item.process_id)
        self._session[slot] = self.sessions.encode(item.session_id)
        if isinstance(item, Memory):
            self._shared[slot] = item.shared
            self._superseded[slot] = item.superseded_by is not None
            if item.pinned:
                self._pinned.add(slot)
            else:
                self._pinned.discard(slot)

    def remove(self, ids: Iterable[str], *, compact: bool = True) -> None:
        """Forget items by id (unknown ids are ignored)."""
        for item_id in ids:
            slot = self._slots.pop(item_id, None)
            if slot is not None:
                self._alive[slot] = False
                self._items[slot] = None
                self._pinned.discard(slot)
        if compact:
            self._maybe_compact()

    def _maybe_compact(self) -> None:
        dead = len(self._items) - len(self._slots)
        if dead >= 64 and dead * 4 >= len(self._items):
            living = [item for item in self._items if item is not None]
            self._items, self._slots, self._pinned = [], {}, set()
            self._allocate_audience(len(living) + 16)
            self.text = TextIndex(self.capacity)
            self.upsert(living)

    # reads

    def best_by_text(
        self, terms: Sequence[str], mask: BoolArray, k: int,
    ) -> list[tuple[Item, float]]:
        """The ``k`` items of ``mask`` with the highest BM25 for ``terms`` (> 0), best
        first; equal scores go older first, then by id (as the FTS5 path orders them)."""
        if k <= 0 or not terms:
            return []
        n = len(self._items)
        scores = self.text.scores(terms, self._alive[:n])
        if scores is None:
            return []
        candidates = np.flatnonzero(mask & (scores > 0.0))
        if candidates.size > k:
            values = scores[candidates]
            cut = -np.partition(-values, k - 1)[k - 1]  # as in VectorSet.nearest
            candidates = candidates[values >= cut]
        chosen = best_slots(candidates, scores[candidates], self._created, k, self._id_of)
        return [(self._item(s), float(scores[s])) for s in chosen]

    def latest(self, mask: BoolArray, limit: int) -> list[Item]:
        """The latest ``limit`` items of ``mask``, oldest first (by time, then id)."""
        chosen = latest_slots(np.flatnonzero(mask), self._created, limit, self._id_of)
        return [self._item(s) for s in chosen]

    def pinned(self, mask: BoolArray) -> list[Item]:
        """The pinned items of ``mask``, oldest first (by time, then id)."""
        found = [self._item(s) for s in self._pinned if mask[s]]
        found.sort(key=lambda item: (item.created_at, item.id))
        return found

    def _item(self, slot: int) -> Item:
        item = self._items[slot]
        assert item is not None, "a living slot holds its item"
        return item

    def _id_of(self, slot: int) -> str:
        return self._item(slot).id
