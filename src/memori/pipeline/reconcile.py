"""Reconciliation: merge duplicates, let newer facts supersede older ones.

For each candidate memory, in order:
1. already applied (its deterministic id exists, or its source turns were
   merged before): skipped, so re-running a turn after a crash changes nothing;
2. an exact duplicate (same normalised text) or a near duplicate (cosine at
   least ``near_duplicate``, stating the same numbers) of a current memory:
   merged, ``count`` + 1 and
   ``last_seen_at`` updated;
3. the same ``slot`` as current memories with other content (``lives_in``:
   Berlin, then Paris): every one of them is marked ``superseded_by`` it first,
   then it is stored;
4. otherwise stored as new.

The retention policy, when there is one, gives each candidate its ``expires_at``
first. Expired memories are not merged into (they are gone for every reader); a
merge keeps the later expiry of the two (none: never) and a pin.

A crash between the two writes of a supersession never leaves two current
memories for one slot: the old ones are superseded before the new one is stored,
and a re-run of the same candidate (its turn is still pending) stores it, or, when
it is stored already, leaves only the newest current memory of its slot.
Two processes storing memories of one slot at once (each superseding the old one,
then storing its own) would leave both current: after storing, each looks again and
supersedes every current memory of the slot but the newest, and the later of the two
looks after both writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from memori.core import Embedder, Hit, Memory, MemoryStore, Scope, live_hits
from memori.core.models import now

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_WORDS = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def same_numbers(a: str, b: str) -> bool:
    """Near-duplicates must state the same numbers: "14 plants" is not "38 plants"."""
    return sorted(_NUMBER.findall(a)) == sorted(_NUMBER.findall(b))


class Reconciler:
    """Applies candidate memories to a store (see module docstring)."""

    def __init__(
        self, store: MemoryStore, embedder: Embedder | None = None, *,
        near_duplicate: float = 0.95, neighbours: int = 8,
        retention: Callable[[Memory], Memory] | None = None,
    ) -> None:
        self.store = store
        self.retention = retention
        """Sets a new memory's ``expires_at`` (the retention policy), if any."""
        self.embedder = embedder if store.vector_dim is not None else None
        self.near_duplicate = near_duplicate
        self.neighbours = neighbours

    def apply(self, candidates: Sequence[Memory]) -> list[Memory]:
        """Apply candidates; returns the memories that were stored or changed."""
        changed: list[Memory] = []
        for cand in self._prepared(candidates):
            result = self._apply_one(cand)
            if result is not None:
                changed.append(result)
        return changed

    def apply_many(self, candidates: Sequence[Memory]) -> list[Memory]:
        """:meth:`apply` for a batch of new memories, stored in one write where it can.

        A candidate that may meet a stored memory (a stored exact or near duplicate, a
        slot, source turns that a re-run may have applied) goes through ``apply``'s
        steps alone. A duplicate of an earlier candidate of the batch merges into it.
        The rest are stored together, after the store was searched for all of them (no
        write between the searches). The outcome is ``apply``'s, except that among
        several near duplicates a stored one is preferred to one of the batch.
        """
        batch = self._prepared(candidates)
        similar = _cosines(batch)
        pending: dict[str, int] = {}  # id -> index in batch, of those to store together
        keys: dict[tuple[str, str | None, str], str] = {}  # scope and normalised text -> id
        changed: list[Memory] = []
        for k, cand in enumerate(batch):
            scope = Scope(cand.entity_id, cand.process_id)
            alone = bool(cand.metadata.get("slot") or cand.source_turn_ids) or any(
                self._duplicate(hit, cand) for hit in self._neighbours(scope, cand))
            if alone:
                result = self._apply_one(cand)
                if result is not None:
                    changed.append(result)
                continue
            key = (cand.entity_id, cand.process_id, normalise(cand.content))
            twin = keys.get(key)
            if twin is None and similar is not None:
                twin = next((i for i, j in pending.items() if similar[k, j] >= self.near_duplicate
                             and batch[j].entity_id == cand.entity_id
                             and batch[j].process_id == cand.process_id
                             and same_numbers(batch[j].content, cand.content)), None)
            if twin is not None:
                j = pending[twin]
                batch[j] = replace(batch[j], **self._merge_changes(batch[j], cand))
                changed.append(batch[j])
                continue
            pending[cand.id] = k
            keys.setdefault(key, cand.id)
            changed.append(cand)
        if pending:
            self.store.put_memories([batch[j] for j in pending.values()])
        latest = {batch[j].id: batch[j] for j in pending.values()}  # after batch merges
        return [latest.get(m.id, m) for m in changed]

    def _prepared(self, candidates: Sequence[Memory]) -> list[Memory]:
        """The candidates with their vectors (a candidate's own is kept) and expiry."""
        vectors: list[tuple[float, ...] | None] = [c.embedding for c in candidates]
        missing = [i for i, c in enumerate(candidates) if c.embedding is None]
        if self.embedder is not None and missing:
            embedded = self.embedder.embed([candidates[i].content for i in missing])
            for i, v in zip(missing, embedded, strict=True):
                vectors[i] = tuple(v)
        out = []
        for cand, vec in zip(candidates, vectors, strict=True):
            if self.retention is not None:
                cand = self.retention(cand)
            out.append(replace(cand, embedding=vec))
        return out

    def _duplicate(self, hit: Hit, cand: Memory) -> bool:
        """Whether ``cand`` would merge into the stored memory of ``hit``."""
        mem = hit.item
        assert isinstance(mem, Memory)
        cosine = 2 * hit.signals.get("vector", -1.0) - 1 if "vector" in hit.signals else -1.0
        similar = cosine >= self.near_duplicate and same_numbers(mem.content, cand.content)
        return normalise(mem.content) == normalise(cand.content) or similar

    def _apply_one(self, cand: Memory) -> Memory | None:
        scope = Scope(cand.entity_id, cand.process_id)
        stored = self.store.get_memory(scope, cand.id)
        if stored is not None:  # applied before: finish a supersession cut short
            slot = stored.metadata.get("slot")
            if slot and stored.is_current:
                self._settle(scope, stored, slot)
            return None
        near = self._neighbours(scope, cand)
        for hit in near:
            mem = hit.item
            assert isinstance(mem, Memory)
            if self._duplicate(hit, cand):
                if set(cand.source_turn_ids) and set(cand.source_turn_ids) <= set(
                    mem.source_turn_ids
                ):
                    return None  # this turn was merged into it before (a re-run)
                return self._merge(scope, mem, cand)
        slot = cand.metadata.get("slot")
        if slot:
            self._supersede(scope, self._same_slot(scope, cand, slot), cand)
        self.store.put_memories([cand])
        if slot:  # another process may have stored one of this slot meanwhile
            self._settle(scope, cand, slot)
        return cand

    def _supersede(self, scope: Scope, olds: Sequence[Memory], new: Memory) -> None:
        """Mark every older one of ``olds`` superseded by ``new`` (before ``new`` is stored)."""
        for old in olds:
            if (old.created_at, old.id) < (new.created_at, new.id):
                self.store.update_memory(
                    scope, old.id, {"superseded_by": new.id, "updated_at": now()}
                )

    def _settle(self, scope: Scope, stored: Memory, slot: str) -> None:
        """Leave one current memory of ``slot``: the newest of those current now."""
        current = [stored, *self._same_slot(scope, stored, slot)]
        newest = max(current, key=lambda m: (m.created_at, m.id))
        self._supersede(scope, [m for m in current if m.id != newest.id], newest)

    def _neighbours(self, scope: Scope, cand: Memory) -> list[Hit]:
        hits: dict[str, Hit] = {}
        n = self.neighbours
        if cand.embedding is not None:
            for h in self.store.search_memories(scope, vector=cand.embedding, limit=n):
                hits[h.id] = Hit(h.item, h.score, {"vector": h.score})
        for h in self.store.search_memories(scope, text=cand.content, limit=n):
            hits.setdefault(h.id, Hit(h.item, h.score, {"text": h.score}))
        # an expired memory is gone for every reader: a candidate is not merged into it
        return sorted(live_hits(hits.values(), now()), key=lambda h: -h.score)

    def _same_slot(self, scope: Scope, cand: Memory, slot: str) -> list[Memory]:
        found = self.store.search_memories(scope, text=cand.content, limit=50)
        return [
            h.item for h in found
            if isinstance(h.item, Memory) and h.item.metadata.get("slot") == slot
            and h.item.process_id == cand.process_id and h.item.id != cand.id
        ]

    def _merge(self, scope: Scope, mem: Memory, cand: Memory) -> Memory:
        changes = self._merge_changes(mem, cand)
        self.store.update_memory(scope, mem.id, changes)
        return replace(mem, **changes)

    @staticmethod
    def _merge_changes(mem: Memory, cand: Memory) -> dict[str, Any]:
        """What merging ``cand`` into ``mem`` changes of ``mem``."""
        turns = tuple(dict.fromkeys((*mem.source_turn_ids, *cand.source_turn_ids)))
        t = now()
        changes: dict[str, Any] = {"count": mem.count + 1, "last_seen_at": t, "updated_at": t,
                                   "source_turn_ids": turns}
        if mem.expires_at is not None and (cand.expires_at is None
                                           or cand.expires_at > mem.expires_at):
            changes["expires_at"] = cand.expires_at  # seen again: it lives as long as the new
        if cand.pinned and not mem.pinned:
            changes["pinned"] = True
        return changes


def _cosines(batch: Sequence[Memory]) -> npt.NDArray[np.float64] | None:
    """Pairwise cosines of the batch's vectors (None unless every one has a vector of
    one size)."""
    import numpy as np  # only here: importing memori does not load numpy

    vectors = [m.embedding for m in batch]
    if not vectors or any(v is None for v in vectors) or len({len(v) for v in vectors if v}) != 1:
        return None
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    unit = matrix / norms[:, None]
    out: npt.NDArray[np.float64] = unit @ unit.T
    return out
