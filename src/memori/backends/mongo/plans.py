"""The store's plans: every operation as requests (see :mod:`.ops`), for sync and async.

Each plan validates its ids, builds filters through :mod:`.filters` only, and
yields requests; ``MongoStore.run`` / ``arun`` execute them. Writes are upserts
keyed by ``(entity_id, id)``, so retrying a write never duplicates anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.operations import ReplaceOne, UpdateMany

from memori.backends.mongo import documents as docs
from memori.backends.mongo import filters as f
from memori.backends.mongo.features import Features
from memori.backends.mongo.ops import Aggregate, Count, Delete, Find, UpdateOne, Write
from memori.backends.mongo.schema import MEMORIES, TURNS
from memori.backends.mongo.search import Doc, Query, search
from memori.core import ExtractState, Hit, Memory, Scope, Turn, check_id
from memori.core.expiry import check_moment
from memori.core.plan_store import Plan, PlanStore, Work
from memori.core.scores import Fused
from memori.core.store_rules import check_item_ids, check_patch, check_scope, check_vector
from memori.core.summaries import EntityCounts, merged

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


class MongoPlans(PlanStore):
    """The ``plan_*`` methods of ``PlanStore`` on MongoDB, and the store's own plans."""

    vector_dim: int | None
    collection_prefix: str
    _features: Features

    # turns

    def plan_append_turns(self, turns: Sequence[Turn]) -> Plan[None]:
        yield from _upserts(TURNS, [docs.turn_to_doc(t, self.vector_dim) for t in turns])

    def plan_list_turns(self, scope: Scope, limit: int | None) -> Plan[list[Turn]]:
        if limit == 0:
            return []
        where, shown = f.turn_scope(scope), docs.result_projection()
        if limit is None:
            rows = yield Find(TURNS, where, shown, OLDEST_FIRST)
        else:
            rows = yield Find(TURNS, where, shown, NEWEST_FIRST, limit=limit)
            rows.reverse()
        return [docs.doc_to_turn(r) for r in rows]

    def plan_count_turns(self, scope: Scope) -> Plan[int]:
        count: int = yield Count(TURNS, f.turn_scope(scope))
        return count

    def plan_delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None) -> Plan[int]:
        where = f.turn_scope(scope)
        ids = check_item_ids(turn_ids, "turn_id")
        if ids is not None:
            if not ids:
                return 0
            where = f.both(where, f.ids_in(ids))
        deleted: int = yield Delete(TURNS, where)
        return deleted

    def plan_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]:
        return self._search(TURNS, f.turn_scope(scope), text, vector, limit)

    # memories

    def plan_put_memories(self, memories: Sequence[Memory]) -> Plan[None]:
        yield from _upserts(MEMORIES, [docs.memory_to_doc(m, self.vector_dim) for m in memories])

    def plan_get_memory(self, scope: Scope, memory_id: str) -> Plan[Memory | None]:
        where = f.both(f.memory_scope(scope), f.item_id(memory_id, "memory_id"))
        rows = yield Find(MEMORIES, where, docs.result_projection(), limit=1)
        return docs.doc_to_memory(rows[0]) if rows else None

    def plan_list_memories(
        self, scope: Scope, include_superseded: bool, limit: int | None, offset: int,
    ) -> Plan[list[Memory]]:
        if limit == 0:
            return []
        rows = yield Find(MEMORIES, f.memory_scope(scope, include_superseded=include_superseded),
                          docs.result_projection(), OLDEST_FIRST, skip=offset, limit=limit or 0)
        return [docs.doc_to_memory(r) for r in rows]

    def plan_count_memories(self, scope: Scope, include_superseded: bool) -> Plan[int]:
        where = f.memory_scope(scope, include_superseded=include_superseded)
        count: int = yield Count(MEMORIES, where)
        return count

    def plan_update_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any],
    ) -> Plan[bool]:
        where = f.both(f.memory_scope(scope), f.item_id(memory_id, "memory_id"))
        checked = check_patch(changes, self.vector_dim)
        if not checked:
            return bool((yield Count(MEMORIES, where)))
        process_id: str | None = None
        if "shared" in checked:
            rows = yield Find(MEMORIES, where, {"process_id": 1}, limit=1)
            if not rows:
                return False
            process_id = rows[0].get("process_id")
        patch = docs.memory_patch(checked, process_id)
        matched: int = yield UpdateOne(MEMORIES, where, {"$set": patch})
        return matched > 0

    def plan_delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> Plan[int]:
        ids = check_item_ids(memory_ids, "memory_id")
        if not ids:
            return 0
        deleted: int = yield Delete(MEMORIES, f.both(f.memory_scope(scope), f.ids_in(ids)))
        return deleted

    def plan_list_pinned(self, scope: Scope) -> Plan[list[Memory]]:
        where = f.both(f.memory_scope(scope, include_superseded=False), {"pinned": True})
        rows = yield Find(MEMORIES, where, docs.result_projection(), OLDEST_FIRST)
        return [docs.doc_to_memory(r) for r in rows]

    def list_pinned(self, scope: Scope) -> list[Memory]:
        """The scope's current pinned memories, oldest first (``SupportsListPinned``)."""
        check_scope(scope)
        return self.run(self.plan_list_pinned(scope),
                        Work("list_pinned", scope.entity_id, read_only=True))

    def plan_sweep_expired(self, at: float) -> Plan[int]:
        deleted: int = yield Delete(MEMORIES, {"expires_at": {"$lte": at}})
        return deleted

    def sweep_expired(self, at: float) -> int:
        """Every entity's expired memories in one delete (``SupportsSweepExpired``)."""
        return self.run(self.plan_sweep_expired(check_moment(at)), Work("sweep_expired", None))

    async def asweep_expired(self, at: float) -> int:
        return await self.arun(self.plan_sweep_expired(check_moment(at)),
                               Work("sweep_expired", None))

    def plan_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool,
    ) -> Plan[list[Hit]]:
        where = f.memory_scope(scope, include_superseded=include_superseded)
        return self._search(MEMORIES, where, text, vector, limit)

    def _search(
        self, collection: str, where: f.Filter, text: str | None,
        vector: Sequence[float] | None, limit: int,
    ) -> Plan[list[Hit]]:
        """The search plan, its text and vector checked now (before any request)."""
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a str or None, got {type(text).__name__}")
        checked = None if vector is None else check_vector(vector, self.vector_dim)
        query = Query(collection, where, text, checked, limit)
        return self._hits(collection, search(query, self._features, self.collection_prefix,
                                             self.vector_dim))

    @staticmethod
    def _hits(collection: str, found: Plan[list[Fused[Doc]]]) -> Plan[list[Hit]]:
        convert = docs.doc_to_memory if collection == MEMORIES else docs.doc_to_turn
        return [Hit(convert(x.item), x.score, x.signals) for x in (yield from found)]

    # whole entity

    def plan_forget(self, entity_id: str) -> Plan[int]:
        where = f.entity_filter(entity_id)
        turns: int = yield Delete(TURNS, where)
        memories: int = yield Delete(MEMORIES, where)
        return turns + memories

    def plan_raw_count(self, entity_id: str) -> Plan[int]:
        where = f.entity_filter(entity_id)
        turns: int = yield Count(TURNS, where)
        memories: int = yield Count(MEMORIES, where)
        return turns + memories

    def plan_import(self, items: Sequence[Turn | Memory]) -> Plan[int]:
        dim = self.vector_dim
        turns = [docs.turn_to_doc(i, dim) for i in items if isinstance(i, Turn)]
        memories = [docs.memory_to_doc(i, dim) for i in items if isinstance(i, Memory)]
        yield from _upserts(TURNS, turns)
        yield from _upserts(MEMORIES, memories)
        return len(turns) + len(memories)

    # outbox and admin (cross entities on purpose)

    def plan_outbox_pending(self, limit: int) -> Plan[list[Turn]]:
        return self._outbox(ExtractState.PENDING, limit)

    def plan_outbox_parked(self, limit: int) -> Plan[list[Turn]]:
        """Parked turns, oldest first (no index covers them: the outbox index is partial
        on pending turns, so this scans the collection)."""
        return self._outbox(ExtractState.PARKED, limit)

    @staticmethod
    def _outbox(state: ExtractState, limit: int) -> Plan[list[Turn]]:
        if limit == 0:
            return []
        rows = yield Find(TURNS, {"extract_state": state.value}, docs.result_projection(),
                          OUTBOX_ORDER, limit=limit)
        return [docs.doc_to_turn(r) for r in rows]

    def plan_outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        attempts: int | None, error: str | None,
    ) -> Plan[None]:
        ids = check_item_ids(turn_ids, "turn_id")
        if not ids:
            return
        changes: dict[str, Any] = {"extract_state": ExtractState(state).value}
        if attempts is not None:
            changes["extract_attempts"] = int(attempts)
        if error is not None:
            changes["extract_error"] = str(error)
        where = f.both(f.entity_filter(entity_id), f.ids_in(ids))
        yield Write(TURNS, [UpdateMany(where, {"$set": changes})])

    def plan_entity_counts(self) -> Plan[list[EntityCounts]]:
        """Every entity's counts, grouped by the server (crosses entities: admin only)."""
        memories = yield Aggregate(MEMORIES, [{"$group": {
            "_id": "$entity_id",
            "current": {"$sum": {"$cond": ["$current", 1, 0]}},
            "superseded": {"$sum": {"$cond": ["$current", 0, 1]}},
            "pinned": {"$sum": {"$cond": ["$pinned", 1, 0]}},
            "last": {"$max": {"$cond": [{"$gt": ["$updated_at", "$created_at"]},
                                        "$updated_at", "$created_at"]}},
        }}])
        turns = yield Aggregate(TURNS, [{"$group": {
            "_id": "$entity_id", "turns": {"$sum": 1}, "last": {"$max": "$created_at"}}}])
        sessions = yield Aggregate(TURNS, [
            {"$group": {"_id": {"e": "$entity_id", "p": "$process_id", "s": "$session_id"}}},
            {"$group": {"_id": "$_id.e", "n": {"$sum": 1}}},
        ])
        named: list[dict[str, Any]] = [{"$match": {"process_id": {"$ne": None}}},
                                       {"$project": {"entity_id": 1, "process_id": 1}}]
        personas = yield Aggregate(TURNS, [
            *named,
            {"$unionWith": {"coll": self.collection_prefix + MEMORIES, "pipeline": named}},
            {"$group": {"_id": {"e": "$entity_id", "p": "$process_id"}}},
            {"$group": {"_id": "$_id.e", "n": {"$sum": 1}}},
        ])
        return merged(
            {str(r["_id"]): (int(r["current"]), int(r["superseded"]), int(r["pinned"]),
                             r["last"]) for r in memories},
            {str(r["_id"]): (int(r["turns"]), r["last"]) for r in turns},
            {str(r["_id"]): int(r["n"]) for r in sessions},
            {str(r["_id"]): int(r["n"]) for r in personas},
        )

    def plan_admin_counts(self) -> Plan[dict[str, int]]:
        """Totals across entities (the admin view)."""
        turns: int = yield Count(TURNS, {})
        memories: int = yield Count(MEMORIES, {})
        pending: int = yield Count(TURNS, {"extract_state": ExtractState.PENDING.value})
        parked: int = yield Count(TURNS, {"extract_state": ExtractState.PARKED.value})
        rows = yield Aggregate(TURNS, [
            {"$project": {"entity_id": 1}},
            {"$unionWith": {"coll": self.collection_prefix + MEMORIES,
                            "pipeline": [{"$project": {"entity_id": 1}}]}},
            {"$group": {"_id": "$entity_id"}},
            {"$count": "n"},
        ])
        entities = int(rows[0]["n"]) if rows else 0
        return {"entities": entities, "turns": turns, "memories": memories,
                "outbox_pending": pending, "outbox_parked": parked}
