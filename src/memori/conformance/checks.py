"""Assertions shared by the groups: same item, well-ranked hits, no leak, same records.

Timestamps are compared to the millisecond and vectors to float32 precision,
so a backend may store them in its own types; everything else must round-trip
exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from memori.core import Hit, Memory, Record, Scope, Turn

TIME_TOLERANCE = 1e-3
VECTOR_TOLERANCE = 1e-4
SCORE_TOLERANCE = 1e-3

_TURN_FIELDS = ("id", "entity_id", "process_id", "session_id", "role", "content",
                "extract_attempts", "extract_error")
_MEMORY_FIELDS = ("id", "entity_id", "process_id", "session_id", "shared", "kind", "content",
                  "count", "superseded_by")


def _same_time(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return abs(float(got) - float(want)) <= TIME_TOLERANCE


def same_vector(got: Sequence[float] | None, want: Sequence[float] | None) -> bool:
    """Equal to float32 precision (``None`` only equals ``None``)."""
    if got is None or want is None:
        return got is None and want is None
    return len(got) == len(want) and all(
        math.isclose(float(g), float(w), rel_tol=VECTOR_TOLERANCE, abs_tol=VECTOR_TOLERANCE)
        for g, w in zip(got, want, strict=True)
    )


def assert_same_turn(got: Turn, want: Turn) -> None:
    """``got`` is ``want`` as read back from the store."""
    assert isinstance(got, Turn), f"expected a Turn, got {type(got).__name__}"
    for name in _TURN_FIELDS:
        assert getattr(got, name) == getattr(want, name), (
            f"turn {want.id!r}: {name} is {getattr(got, name)!r}, wrote {getattr(want, name)!r}"
        )
    assert str(got.extract_state) == str(want.extract_state), f"turn {want.id!r}: extract_state"
    assert _same_time(got.created_at, want.created_at), f"turn {want.id!r}: created_at"
    assert dict(got.metadata) == dict(want.metadata), f"turn {want.id!r}: metadata"


def assert_same_memory(got: Memory, want: Memory) -> None:
    """``got`` is ``want`` as read back from the store."""
    assert isinstance(got, Memory), f"expected a Memory, got {type(got).__name__}"
    for name in _MEMORY_FIELDS:
        assert getattr(got, name) == getattr(want, name), (
            f"memory {want.id!r}: {name} is {getattr(got, name)!r}, wrote {getattr(want, name)!r}"
        )
    for name in ("created_at", "updated_at", "last_seen_at"):
        assert _same_time(getattr(got, name), getattr(want, name)), f"memory {want.id!r}: {name}"
    assert tuple(got.source_turn_ids) == tuple(want.source_turn_ids), (
        f"memory {want.id!r}: source_turn_ids"
    )
    assert dict(got.metadata) == dict(want.metadata), f"memory {want.id!r}: metadata"


def assert_same_turns(got: Sequence[Turn], want: Sequence[Turn]) -> None:
    """The same turns in the same order."""
    assert [t.id for t in got] == [t.id for t in want], "turn ids or order differ"
    for g, w in zip(got, want, strict=True):
        assert_same_turn(g, w)


def assert_same_memories(got: Sequence[Memory], want: Sequence[Memory]) -> None:
    """The same memories in the same order."""
    assert [m.id for m in got] == [m.id for m in want], "memory ids or order differ"
    for g, w in zip(got, want, strict=True):
        assert_same_memory(g, w)


def assert_ranked(hits: Sequence[Hit], limit: int) -> None:
    """Hits are ``Hit``s, at most ``limit``, distinct, scored in [0, 1], best first."""
    assert isinstance(hits, list), f"search must return a list, got {type(hits).__name__}"
    assert len(hits) <= limit, f"{len(hits)} hits for limit={limit}"
    for h in hits:
        assert isinstance(h, Hit), f"expected Hit, got {type(h).__name__}"
        assert isinstance(h.score, float | int) and not isinstance(h.score, bool)
        assert 0.0 <= h.score <= 1.0, f"score {h.score} of {h.id!r} is outside [0, 1]"
    ids = [h.id for h in hits]
    assert len(ids) == len(set(ids)), f"duplicate hits: {ids}"
    scores = [h.score for h in hits]
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(scores)), (
        f"hits are not ordered by score, best first: {scores}"
    )


def turn_in_scope(t: Turn, scope: Scope) -> bool:
    """The turn rule: same entity and persona (None only None), same session if named."""
    return (
        t.entity_id == scope.entity_id and t.process_id == scope.process_id
        and (scope.session_id is None or t.session_id == scope.session_id)
    )


def memory_visible(m: Memory, scope: Scope, include_superseded: bool = False) -> bool:
    """The memory rule: entity, persona (own, none or shared), current unless asked."""
    return m.visible_to(scope) and (include_superseded or m.superseded_by is None)


def assert_memory_hits(
    hits: Sequence[Hit], scope: Scope, allowed: Collection[str], *,
    limit: int, include_superseded: bool = False,
) -> None:
    """Well ranked, and every hit is a memory ``scope`` may see, among ``allowed`` ids."""
    assert_ranked(hits, limit)
    for h in hits:
        m = h.item
        assert isinstance(m, Memory), f"memory search returned a {type(m).__name__}"
        assert memory_visible(m, scope, include_superseded), (
            f"LEAK: memory {m.id!r} of (entity={m.entity_id!r}, process={m.process_id!r}, "
            f"shared={m.shared}, superseded_by={m.superseded_by!r}) returned to {scope}"
        )
        assert m.id in allowed, f"memory {m.id!r} returned to {scope} was not expected there"


def assert_turn_hits(
    hits: Sequence[Hit], scope: Scope, allowed: Collection[str], *, limit: int
) -> None:
    """Well ranked, and every hit is a turn of ``scope``, among ``allowed`` ids."""
    assert_ranked(hits, limit)
    for h in hits:
        t = h.item
        assert isinstance(t, Turn), f"turn search returned a {type(t).__name__}"
        assert turn_in_scope(t, scope), (
            f"LEAK: turn {t.id!r} of (entity={t.entity_id!r}, process={t.process_id!r}, "
            f"session={t.session_id!r}) returned to {scope}"
        )
        assert t.id in allowed, f"turn {t.id!r} returned to {scope} was not expected there"


def assert_only_entity(items: Iterable[Turn | Memory], entity_id: str, what: str) -> None:
    """Every item belongs to ``entity_id``."""
    for i in items:
        assert i.entity_id == entity_id, (
            f"LEAK: {what} for entity {entity_id!r} returned {i.id!r} of entity {i.entity_id!r}"
        )


def _same_value(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return (
            isinstance(got, int | float) and isinstance(want, int | float)
            and abs(float(got) - float(want)) <= TIME_TOLERANCE
        )
    return bool(got == want)


def assert_same_record(got: Mapping[str, Any], want: Mapping[str, Any]) -> None:
    """Two exported records hold the same data (times to 1 ms, vectors to float32)."""
    label = f"{want.get('type')} {want.get('id')!r}"
    assert set(got) >= set(want), f"record {label} lacks {sorted(set(want) - set(got))}"
    for key, value in want.items():
        if key == "embedding":
            assert same_vector(got[key], value), f"record {label}: embedding differs"
        elif key in ("created_at", "updated_at", "last_seen_at"):
            assert _same_time(got[key], value), f"record {label}: {key} differs"
        else:
            assert _same_value(got[key], value), (
                f"record {label}: {key} is {got[key]!r}, expected {value!r}"
            )


def record_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(record["type"]), str(record["entity_id"]), str(record["id"]))


def assert_same_records(got: Iterable[Record], want: Iterable[Record]) -> None:
    """The same records, in any order."""
    g = {record_key(r): r for r in got}
    w = {record_key(r): r for r in want}
    assert sorted(g) == sorted(w), (
        f"records differ: missing {sorted(set(w) - set(g))}, extra {sorted(set(g) - set(w))}"
    )
    for key, record in w.items():
        assert_same_record(g[key], record)
