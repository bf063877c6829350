"""Required: an entity's export, imported after forget, restores it exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memori.conformance.base import Ids, StoreOpener, raw_count
from memori.conformance.checks import assert_same_records
from memori.conformance.data import fresh, memory, turn, vec
from memori.core import Capability, ExtractState, MemoryStore, Scope
from memori.core.records import from_record


def _populate(store: MemoryStore, entity_id: str) -> None:
    for p in (None, "coach"):
        scope = Scope(entity_id, p, fresh("s"))
        store.append_turns([
            turn(scope, "falcon goal", metadata={"name": "alice", "nested": [1, {"a": None}]},
                 embedding=vec(1, 2)),
            turn(scope, "", role="assistant", extract_state=ExtractState.DONE,
                 metadata={"tool_calls": [{"id": "c1", "function": {"name": "f"}}]}),
            turn(scope, "parked", extract_state=ExtractState.PARKED, extract_attempts=3,
                 extract_error="boom"),
        ])
    new = memory(Scope(entity_id, "coach"), "falcon 10K", embedding=vec(0, 1), count=2,
                 last_seen_at=1_700_000_000.5, source_turn_ids=("t1",))
    store.put_memories([
        memory(Scope(entity_id), "ünïcödé open", kind="preference", metadata={"k": [1, 2]}),
        memory(Scope(entity_id, "coach"), "shared", shared=True, session_id="s-1"),
        memory(Scope(entity_id, "coach"), "falcon 5K", superseded_by=new.id,
               updated_at=1_700_000_001.0, embedding=vec(1)),
        new,
    ])


class ExportImportTests:
    """Portable records: export, forget, import, export again."""

    def test_export_records_are_portable(self, store: MemoryStore, ids: Ids) -> None:
        e = ids.entity()
        _populate(store, e)
        records = list(store.export(e))
        assert len(records) == 10
        for r in records:
            assert isinstance(r, dict) and r["type"] in ("turn", "memory")
            assert r["entity_id"] == e
            json.dumps(r)  # JSON-serialisable as the protocol says
            assert from_record(r).id == r["id"]

    def test_export_import_round_trip(
        self, store: MemoryStore, open_store: StoreOpener, ids: Ids
    ) -> None:
        e = ids.entity()
        _populate(store, e)
        before = list(store.export(e))
        listed = {p: store.list_turns(Scope(e, p)) for p in (None, "coach")}
        assert store.forget(e) == len(before)
        other = open_store()
        assert other.import_records(json.loads(json.dumps(before))) == len(before)
        assert_same_records(list(store.export(e)), before)
        for p, turns in listed.items():
            assert [t.id for t in store.list_turns(Scope(e, p))] == [t.id for t in turns]
        coach = Scope(e, "coach")
        assert store.count_memories(coach) == 3
        assert store.count_memories(coach, include_superseded=True) == 4
        if Capability.VECTOR_SEARCH in store.capabilities:
            hits = store.search_memories(coach, vector=vec(0, 1), limit=1)
            assert [h.content for h in hits] == ["falcon 10K"], "vectors survive the round trip"
        if Capability.TEXT_SEARCH in store.capabilities:
            hits = store.search_memories(coach, text="falcon", limit=10)
            assert [h.content for h in hits] == ["falcon 10K"], "text index rebuilt on import"

    def test_import_twice_changes_nothing(self, store: MemoryStore, ids: Ids) -> None:
        e = ids.entity()
        _populate(store, e)
        before = list(store.export(e))
        raw = raw_count(store, e)
        assert store.import_records(before) == len(before)
        assert raw_count(store, e) == raw, "importing existing records must not duplicate them"
        assert_same_records(list(store.export(e)), before)

    def test_import_leaves_other_entities_alone(self, store: MemoryStore, ids: Ids) -> None:
        e, other = ids.entity(), ids.entity()
        _populate(store, e)
        _populate(store, other)
        kept = list(store.export(other))
        records = list(store.export(e))
        store.forget(e)
        store.import_records(records)
        assert_same_records(list(store.export(other)), kept)

    @pytest.mark.parametrize("bad", [
        {"type": "unknown", "id": "x"},
        {"type": "memory", "entity_id": "", "id": "x", "content": "c", "created_at": 1.0},
        {"type": "turn", "entity_id": "e" * 256, "id": "x", "session_id": "s", "role": "user",
         "content": "c", "created_at": 1.0},
    ])
    def test_import_refuses_malformed_records(
        self, store: MemoryStore, ids: Ids, bad: dict[str, Any]
    ) -> None:
        with pytest.raises(ValueError):
            store.import_records([bad])

    def test_admin_export_all_holds_the_entity(self, store: MemoryStore, ids: Ids) -> None:
        e = ids.entity()
        _populate(store, e)
        mine = [r for r in store.admin_export_all() if r["entity_id"] == e]
        assert_same_records(mine, list(store.export(e)))
        assert isinstance(store.admin_stats(), dict)
