"""Builders for the suite's test data: fresh ids, turns, memories, vectors, hostile ids.

Every id the suite writes under contains a fresh uuid, so the suite runs on a
database that already holds data (other tests', other runs', production's).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from memori.conformance.scoring import words
from memori.core import Memory, Scope, Turn

DIM = 8
"""The vector dimension the suite opens every store with (``vector_dim=8``)."""

WORDS = ("zebra", "quartz", "violin", "tundra", "mango", "falcon", "copper", "nectar")
"""Query words: no stop words, and no two share a stem in any common stemmer."""

MAX_ITEM_ID = 64
"""Turn and memory ids the suite writes stay within 64 characters (ids of scopes: 255)."""


def fresh(prefix: str = "mc") -> str:
    """A new id no other test, run or application has used: ``prefix`` + a uuid4."""
    return f"{prefix}-{uuid.uuid4().hex}"


def vec(*components: float) -> tuple[float, ...]:
    """A ``DIM``-component vector from the first few components (the rest are 0)."""
    if len(components) > DIM:
        raise ValueError(f"at most {DIM} components")
    return tuple(float(c) for c in components) + (0.0,) * (DIM - len(components))


def basis(i: int) -> tuple[float, ...]:
    """The unit vector along axis ``i``."""
    return vec(*([0.0] * i + [1.0]))


def turn(
    scope: Scope, content: str, *, role: str = "user", **fields: Any
) -> Turn:
    """A turn in ``scope`` (which must name a session)."""
    if scope.session_id is None:
        raise ValueError("a turn needs a scope with a session")
    return Turn(
        entity_id=scope.entity_id, process_id=scope.process_id,
        session_id=scope.session_id, role=role, content=content, **fields,
    )


def memory(scope: Scope, content: str, **fields: Any) -> Memory:
    """A memory of ``scope``'s entity and persona."""
    return Memory(entity_id=scope.entity_id, process_id=scope.process_id, content=content,
                  **fields)


def hostile_ids(base: str) -> list[str]:
    """Ids that break a backend which treats ids as syntax or compares them loosely.

    Each one contains ``base`` (a fresh uuid hex), so it is fresh too. They look
    like SQL, LIKE patterns, globs, regexes and Mongo operators, differ from each
    other only by case, by a prefix, by Unicode normalisation or by whitespace,
    or run to the 255-character limit (multi-byte characters included).
    """
    long = (base + "ü" * 255)[:255]
    candidates = [
        base, base.upper(), base[:-1], base[:16], base + "x",
        base + "%", base[:-1] + "%", base[:-1] + "_", base + "_", "%" + base[1:],
        base + "*", base + "?", base + ".*", "^" + base + "$", base + "|.*", base + "[a-z]",
        base + "'", base + "''", base + '"', base + "\\", base + "\\%", base + "`",
        base + "' OR '1'='1", base + "'; DROP TABLE memori_memories; --", base + " --",
        base + "/*", '{"$ne": "' + base + '"}', "$ne" + base, "$where" + base,
        base + ".$", base + "[0]", base + "{}", base + ":", base + "&",
        base + " ", " " + base, base + "\t", base + "\n",
        base + "é", base + "e\u0301", base + "ß", base + "ss", base + "SS",
        base + "İ", base + "i\u0307", base + "\uff58", base + "🙂",
        base + "\u202e", base + "\u200b",
        long, long[:-1],
    ]
    return list(dict.fromkeys(candidates))


def hostile_item_ids(base: str) -> list[str]:
    """The hostile ids that fit a turn or memory id (at most ``MAX_ITEM_ID`` characters)."""
    return [i for i in hostile_ids(base) if len(i) <= MAX_ITEM_ID]


def contains_any_word(content: str, query_words: Sequence[str]) -> bool:
    """Whether ``content`` holds one of ``query_words`` (both case-folded)."""
    return not set(words(content)).isdisjoint(w.casefold() for w in query_words)
