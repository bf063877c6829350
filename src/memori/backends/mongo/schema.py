"""Collections, indexes and versioned setup steps, recorded in the meta collection.

Each step is idempotent (``createIndexes`` with fixed names and specs, or the
re-derivation of the text-search fields of documents holding CJK text) and is
recorded as ``{"_id": "step:N"}`` once applied; ``{"_id": "schema"}`` holds the
highest version (raised with ``$max``, never lowered). New collections get every
step; collections at an older version are upgraded only when asked
(``migrate=True``, or ``memori migrate URL``), since building an index on a
large collection is an operation to plan. Running setup from many
processes at once is safe: a step applied twice is a no-op, and racing upserts
of the same meta document are retried. Every scope index leads with
``entity_id``, so ``{entity_id: 1}`` or ``{entity_id: "hashed"}`` can be the
shard key. The one exception is the outbox index, read across entities by the
background worker by design.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.operations import IndexModel, UpdateMany

from memori.backends.mongo import text_search
from memori.backends.mongo.ops import (
    Attempt,
    CreateIndexes,
    Find,
    ListIndexes,
    Request,
    UpdateOne,
    Write,
)
from memori.core import (
    DimensionMismatchError,
    SchemaOutdatedError,
    SchemaTooNewError,
    StoreError,
)
from memori.core.cjk import has_cjk
from memori.core.plan_store import Plan

TURNS, MEMORIES, META = "turns", "memories", "meta"


@dataclass(frozen=True)
class Step:
    """One versioned, idempotent setup step: indexes on one collection, or (``reindex_cjk``)
    the text-search fields of its documents holding CJK text derived again."""

    version: int
    description: str
    collection: str
    indexes: tuple[IndexModel, ...]
    reindex_cjk: bool = False


def _index(name: str, keys: list[tuple[str, int]], **options: Any) -> IndexModel:
    return IndexModel(keys, name=name, **options)


STEPS: tuple[Step, ...] = (
    Step(1, "turns: unique id per entity; read by persona, session and time", TURNS, (
        _index("entity_id_1_id_1", [("entity_id", 1), ("id", 1)], unique=True),
        _index("scope_time", [("entity_id", 1), ("persona", 1), ("session_id", 1),
                              ("created_at", 1), ("id", 1)]),
    )),
    Step(2, "turns: the augmentation outbox (pending turns, oldest first)", TURNS, (
        _index("outbox_pending", [("created_at", 1), ("entity_id", 1), ("id", 1)],
               partialFilterExpression={"extract_state": "pending"}),
    )),
    Step(3, "memories: unique id per entity; read by visibility and time", MEMORIES, (
        _index("entity_id_1_id_1", [("entity_id", 1), ("id", 1)], unique=True),
        _index("visible_time", [("entity_id", 1), ("audience", 1), ("current", 1),
                                ("created_at", 1), ("id", 1)]),
    )),
    Step(4, "terms for text search without a text index", TURNS, (
        _index("entity_id_1_terms_1", [("entity_id", 1), ("terms", 1)]),
    )),
    Step(5, "terms for text search without a text index", MEMORIES, (
        _index("entity_id_1_terms_1", [("entity_id", 1), ("terms", 1)]),
    )),
    Step(6, "memories: the pinned ones, read by every registered call", MEMORIES, (
        _index("pinned_time", [("entity_id", 1), ("created_at", 1), ("id", 1)],
               partialFilterExpression={"pinned": True}),
    )),
    Step(7, "turns: CJK text's terms cut into characters and pairs", TURNS, (),
         reindex_cjk=True),
    Step(8, "memories: CJK text's terms cut into characters and pairs", MEMORIES, (),
         reindex_cjk=True),
)
REINDEX_BATCH = 1000
HEAD = max(s.version for s in STEPS)
SCHEMA_ID, VECTORS_ID = "schema", "vectors"


def _step_id(version: int) -> str:
    return f"step:{version}"


def upsert_meta(doc_id: str, update: dict[str, Any]) -> Plan[None]:
    """Upsert one meta document; a concurrent upsert's duplicate key is retried once."""
    request: Request = UpdateOne(META, {"_id": {"$eq": doc_id}}, update, upsert=True)
    ok, _ = yield Attempt(request, (DuplicateKeyError,))
    if not ok:
        yield request


def _indexes_present(info: dict[str, Any], indexes: tuple[IndexModel, ...]) -> bool:
    for model in indexes:
        spec = model.document
        existing = info.get(spec["name"])
        if existing is None or list(existing["key"]) != list(spec["key"].items()):
            return False
    return True


def reindex_cjk(collection: str) -> Plan[int]:
    """Derive ``terms``, ``term_freqs`` and ``term_total`` again for every document whose
    content holds CJK characters (written before they were cut into pairs); pages
    through the collection by ``_id``. Returns the documents rewritten."""
    rewritten = 0
    after: Any = None
    while True:
        page = yield Find(collection, {} if after is None else {"_id": {"$gt": after}},
                          {"_id": 1, "content": 1}, [("_id", 1)], limit=REINDEX_BATCH)
        if not page:
            return rewritten
        updates = [UpdateMany({"_id": doc["_id"]},
                              {"$set": text_search.term_fields(doc["content"])})
                   for doc in page
                   if isinstance(doc.get("content"), str) and has_cjk(doc["content"])]
        if updates:
            yield Write(collection, updates)
            rewritten += len(updates)
        after = page[-1]["_id"]


def _apply(step: Step) -> Plan[None]:
    if step.reindex_cjk:
        yield from reindex_cjk(step.collection)
        return
    ok, error = yield Attempt(CreateIndexes(step.collection, step.indexes), (OperationFailure,))
    if not ok:
        info = yield ListIndexes(step.collection)
        if not _indexes_present(info, step.indexes):
            raise StoreError(f"mongo: setup step {step.version} failed: {error}") from error


def apply_steps(*, migrate: bool, command: str) -> Plan[int]:
    """Apply the steps not yet recorded; returns the schema version now in place.

    ``command`` is what the error for outdated collections tells the user to run.
    """
    ids = [SCHEMA_ID] + [_step_id(s.version) for s in STEPS]
    rows = yield Find(META, {"_id": {"$in": ids}})
    meta = {row["_id"]: row for row in rows}
    current = int(meta.get(SCHEMA_ID, {}).get("version", 0))
    if current > HEAD:
        raise SchemaTooNewError(
            f"the mongo collections are at setup version {current}; this memori knows {HEAD}: "
            "upgrade memori"
        )
    if 0 < current < HEAD and not migrate:
        raise SchemaOutdatedError(str(current), str(HEAD), command)
    for step in STEPS:
        if _step_id(step.version) in meta:
            continue
        yield from _apply(step)
        yield from upsert_meta(_step_id(step.version), {"$setOnInsert": {
            "version": step.version, "description": step.description, "applied_at": time.time(),
        }})
    yield from upsert_meta(SCHEMA_ID, {"$max": {"version": HEAD}})
    return HEAD


def check_vector_dim(dim: int) -> Plan[None]:
    """Record the vector dimension on first setup; refuse a store opened with another one."""
    yield from upsert_meta(VECTORS_ID, {"$setOnInsert": {"dim": dim}})
    rows = yield Find(META, {"_id": {"$eq": VECTORS_ID}})
    stored = rows[0].get("dim") if rows else None
    if stored is not None and int(stored) != dim:
        raise DimensionMismatchError(
            f"the mongo collections hold vectors of {stored} components; "
            f"this store was opened with vector_dim={dim}"
        )
