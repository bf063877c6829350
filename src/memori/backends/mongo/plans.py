"""Read and write plans for turns and memories, shared by the sync and async store.

Each function validates its ids, builds filters through :mod:`.filters` only,
and yields requests (see :mod:`.ops`). Writes are upserts keyed by
``(entity_id, id)``, so retrying a write never duplicates anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.operations import ReplaceOne, UpdateMany

from memori.backends.mongo import documents as docs
from memori.backends.mongo import filters as f
from memori.backends.mongo.ops import Aggregate, Count, Delete, Find, Plan, UpdateOne, Write
from memori.backends.mongo.schema import MEMORIES, TURNS
from memori.core import ExtractState, Memory, Scope, Turn, check_id

OLDEST_FIRST = (("created_at", 1), ("id", 1))
NEWEST_FIRST = (("created_at", -1), ("id", -1))
OUTBOX_ORDER = (("created_at", 1), ("entity_id", 1), ("id", 1))
BATCH = 500


def _key(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"entity_id": check_id(doc["entity_id"], "entity_id"), "id": check_id(doc["id"], "id")}


def _upserts(collection: str, documents: list[dict[str, Any]]) -> Plan[None]:
    for start in range(0, len(documents), BATCH):
        chunk = documents[start:start + BATCH]
        yield Write(collection, [ReplaceOne(_key(d), d, upsert=True) for d in chunk])


# turns

def append_turns(turns: Sequence[Turn], dim: int | None) -> Plan[None]:
    yield from _upserts(TURNS, [docs.turn_to_doc(t, dim) for t in turns])


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")


def list_turns(scope: Scope, limit: int | None) -> Plan[list[Turn]]:
    _check_limit(limit)
    if limit == 0:
        return []
    if limit is None:
        rows = yield Find(TURNS, f.turn_scope(scope), docs.result_projection(), OLDEST_FIRST)
    else:
        rows = yield Find(TURNS, f.turn_scope(scope), docs.result_projection(), NEWEST_FIRST,
                          limit=limit)
        rows.reverse()
    return [docs.doc_to_turn(r) for r in rows]


def count_turns(scope: Scope) -> Plan[int]:
    count: int = yield Count(TURNS, f.turn_scope(scope))
    return count


def delete_turns(scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
    where = f.turn_scope(scope)
    if turn_ids is not None:
        ids = f.item_ids(turn_ids, "turn id")
        if not ids:
            return 0
        where = f.both(where, f.ids_in(ids, "turn id"))
    deleted: int = yield Delete(TURNS, where)
    return deleted


# memories

def put_memories(memories: Sequence[Memory], dim: int | None) -> Plan[None]:
    yield from _upserts(MEMORIES, [docs.memory_to_doc(m, dim) for m in memories])


def get_memory(scope: Scope, memory_id: str) -> Plan[Memory | None]:
    where = f.both(f.memory_scope(scope), f.item_id(memory_id, "memory id"))
    rows = yield Find(MEMORIES, where, docs.result_projection(), limit=1)
    return docs.doc_to_memory(rows[0]) if rows else None


def list_memories(
    scope: Scope, include_superseded: bool, limit: int | None, offset: int
) -> Plan[list[Memory]]:
    _check_limit(limit)
    if offset < 0:
        raise ValueError("offset must not be negative")
    if limit == 0:
        return []
    rows = yield Find(MEMORIES, f.memory_scope(scope, include_superseded=include_superseded),
                      docs.result_projection(), OLDEST_FIRST, skip=offset, limit=limit or 0)
    return [docs.doc_to_memory(r) for r in rows]


def count_memories(scope: Scope, include_superseded: bool) -> Plan[int]:
    count: int = yield Count(MEMORIES, f.memory_scope(scope, include_superseded=include_superseded))
    return count


def update_memory(
    scope: Scope, memory_id: str, changes: Mapping[str, Any], dim: int | None
) -> Plan[bool]:
    where = f.both(f.memory_scope(scope), f.item_id(memory_id, "memory id"))
    docs.memory_patch(changes, dim, None)  # validate before any query
    if not changes:
        return bool((yield Count(MEMORIES, where)))
    process_id: str | None = None
    if "shared" in changes:
        rows = yield Find(MEMORIES, where, {"process_id": 1}, limit=1)
        if not rows:
            return False
        process_id = rows[0].get("process_id")
    patch = docs.memory_patch(changes, dim, process_id)
    matched: int = yield UpdateOne(MEMORIES, where, {"$set": patch})
    return matched > 0


def delete_memories(scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
    ids = f.item_ids(memory_ids, "memory id")
    if not ids:
        return 0
    deleted: int = yield Delete(MEMORIES, f.both(f.memory_scope(scope), f.ids_in(ids, "memory id")))
    return deleted


# whole entity

def forget(entity_id: str) -> Plan[int]:
    where = f.entity_filter(entity_id)
    turns: int = yield Delete(TURNS, where)
    memories: int = yield Delete(MEMORIES, where)
    return turns + memories


def raw_count(entity_id: str) -> Plan[int]:
    where = f.entity_filter(entity_id)
    turns: int = yield Count(TURNS, where)
    memories: int = yield Count(MEMORIES, where)
    return turns + memories


def import_items(items: Sequence[Turn | Memory], dim: int | None) -> Plan[int]:
    turns = [docs.turn_to_doc(i, dim) for i in items if isinstance(i, Turn)]
    memories = [docs.memory_to_doc(i, dim) for i in items if isinstance(i, Memory)]
    yield from _upserts(TURNS, turns)
    yield from _upserts(MEMORIES, memories)
    return len(turns) + len(memories)


# outbox (crosses entities on purpose)

def outbox_pending(limit: int) -> Plan[list[Turn]]:
    _check_limit(limit)
    if limit == 0:
        return []
    rows = yield Find(TURNS, {"extract_state": ExtractState.PENDING.value},
                      docs.result_projection(), OUTBOX_ORDER, limit=limit)
    return [docs.doc_to_turn(r) for r in rows]


def outbox_parked(limit: int) -> Plan[list[Turn]]:
    """Parked turns, oldest first (no index covers them: the outbox index is partial
    on pending turns, so this scans the collection)."""
    _check_limit(limit)
    if limit == 0:
        return []
    rows = yield Find(TURNS, {"extract_state": ExtractState.PARKED.value},
                      docs.result_projection(), OUTBOX_ORDER, limit=limit)
    return [docs.doc_to_turn(r) for r in rows]


def outbox_mark(
    entity_id: str, turn_ids: Sequence[str], state: ExtractState,
    attempts: int | None, error: str | None,
) -> Plan[None]:
    ids = f.item_ids(turn_ids, "turn id")
    if not ids:
        return
    changes: dict[str, Any] = {"extract_state": ExtractState(state).value}
    if attempts is not None:
        changes["extract_attempts"] = int(attempts)
    if error is not None:
        changes["extract_error"] = str(error)
    where = f.both(f.entity_filter(entity_id), f.ids_in(ids, "turn id"))
    yield Write(TURNS, [UpdateMany(where, {"$set": changes})])


def admin_counts(prefix: str) -> Plan[dict[str, int]]:
    """Totals across entities (the admin view)."""
    turns: int = yield Count(TURNS, {})
    memories: int = yield Count(MEMORIES, {})
    pending: int = yield Count(TURNS, {"extract_state": ExtractState.PENDING.value})
    parked: int = yield Count(TURNS, {"extract_state": ExtractState.PARKED.value})
    rows = yield Aggregate(TURNS, [
        {"$project": {"entity_id": 1}},
        {"$unionWith": {"coll": prefix + MEMORIES, "pipeline": [{"$project": {"entity_id": 1}}]}},
        {"$group": {"_id": "$entity_id"}},
        {"$count": "n"},
    ])
    entities = int(rows[0]["n"]) if rows else 0
    return {"entities": entities, "turns": turns, "memories": memories,
            "outbox_pending": pending, "outbox_parked": parked}
