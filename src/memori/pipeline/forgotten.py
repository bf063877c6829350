"""A forget in one process while a worker of another extracts: nothing comes back.

A worker reads a batch of turns, extracts (seconds, with a model) and then writes the
memories. If another process forgets the entity, a persona or a session in between,
the write would bring back memories of what was forgotten; the in-process guard
(``InFlight.applying``) only sees this process's own ``forget``. Two checks close it:

- the worker, after its write: it counts the turns left in each conversation of the
  batch and deletes again the new memories whose source turns are all gone
  (:func:`take_back_forgotten`);
- ``forget``, after its deletes: it deletes the memories of the grain that were
  written while it ran (:func:`sweep_late_writes`; for a session, those whose
  source turns were the session's turns, listed before).

A write that commits before the forget's sweep reads is deleted by the sweep; one
that commits after it comes after the turns were deleted, so the worker's count,
which follows its own write, finds them gone. This holds on any store whose
operations commit in turn (each check reads what committed before it), SQLite and
PostgreSQL included, for every grain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from memori.core import Memory, MemoryStore, Scope, Turn
from memori.core.expiry import delete_by_keys
from memori.observability import describe_error

log = logging.getLogger(__name__)


def take_back_forgotten(
    store: MemoryStore, turns: Sequence[Turn], candidate_ids: set[str],
    changed: list[Memory],
) -> list[Memory]:
    """``changed`` without the new memories (ids in ``candidate_ids``) of conversations
    of ``turns`` that hold no turn any more; those are deleted from the store. A store
    that fails here leaves the memories as written (logged): the batch is done."""
    try:
        return _take_back(store, turns, candidate_ids, changed)
    except Exception as e:
        log.warning("memori: checking for a forget during extraction failed (%s)",
                    describe_error(e))
        return changed


def _take_back(
    store: MemoryStore, turns: Sequence[Turn], candidate_ids: set[str],
    changed: list[Memory],
) -> list[Memory]:
    new = [m for m in changed if m.id in candidate_ids]
    if not new:
        return changed
    conversation = {t.id: (t.process_id, t.session_id) for t in turns}
    entity_id = turns[0].entity_id
    emptied = {
        key for key in set(conversation.values())
        if store.count_turns(Scope(entity_id, key[0], key[1])) == 0
    }
    if not emptied:
        return changed
    taken = [m for m in new if m.source_turn_ids and all(
        conversation.get(t) in emptied for t in m.source_turn_ids)]
    delete_by_keys(store, [(entity_id, m.process_id, m.id) for m in taken])
    gone = {m.id for m in taken}
    return [m for m in changed if m.id not in gone]


def grain_turn_ids(
    store: MemoryStore, entity_id: str, process_id: str | None, session_id: str | None,
) -> set[str]:
    """Before a session is forgotten: the ids of its turns (of one persona, or of every
    persona when ``process_id`` is None); empty for the other grains."""
    if session_id is None:
        return set()
    if process_id is not None:
        return {t.id for t in store.list_turns(Scope(entity_id, process_id, session_id))}
    return {t.id for t in store.scan(entity_id)
            if isinstance(t, Turn) and t.session_id == session_id}


def sweep_late_writes(
    store: MemoryStore, entity_id: str, process_id: str | None, session_id: str | None,
    turn_ids: set[str],
) -> int:
    """After a forget: delete the memories of the grain a worker wrote while it ran
    (after the forget listed the memories, before it deleted the turns, so that the
    worker still counted them); returns how many went. The entity: any memory left;
    a persona: its own memories; a session: those from its turns (``turn_ids``) alone."""
    if session_id is None and process_id is None:
        late = [m for m in store.scan(entity_id) if isinstance(m, Memory)]
    elif session_id is None:
        late = [m for m in store.list_memories(Scope(entity_id, process_id),
                                               include_superseded=True)
                if m.process_id == process_id]
    else:
        found: list[Memory] = (
            [m for m in store.scan(entity_id) if isinstance(m, Memory)] if process_id is None
            else store.list_memories(Scope(entity_id, process_id), include_superseded=True))
        late = [m for m in found
                if m.source_turn_ids and set(m.source_turn_ids) <= turn_ids]
    return delete_by_keys(store, [(entity_id, m.process_id, m.id) for m in late])
