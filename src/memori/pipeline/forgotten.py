"""Memories extracted from turns that another process forgot meanwhile are taken back.

A worker reads a batch of turns, extracts (seconds, with a model) and then writes the
memories. If another process forgets the entity, the persona or the session in
between, the writes would bring back memories of what was forgotten; the in-process
guard (``InFlight.applying``) only sees this process's own ``forget``. So after the
writes, the worker counts the turns left in each conversation of the batch, and
deletes again the new memories whose source turns all belong to conversations that
are now empty.

Why checking after the write closes the race: ``forget`` deletes the turns before it
looks for the memories to delete (the grains derived in core run as separate steps;
an entity's ``forget`` is one transaction). Either the worker's write lands before
``forget`` looks, and ``forget`` deletes it, or it lands after the turns are gone, and
the count here finds them gone. On SQLite, whose writers take turns, this holds for
every grain; on a server that lets the worker commit while an entity's ``forget``
transaction is still open, the window left is the moment between that transaction's
last delete and its commit (docs/security.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from memori.core import Memory, MemoryStore, Scope, Turn
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
    by_persona: dict[str | None, list[str]] = {}
    for m in taken:
        by_persona.setdefault(m.process_id, []).append(m.id)
    for process_id, ids in by_persona.items():
        store.delete_memories(Scope(entity_id, process_id), ids)
    gone = {m.id for m in taken}
    return [m for m in changed if m.id not in gone]
