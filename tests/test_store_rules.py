"""The rules every store shares (``memori.core.store_rules``), as a user's values meet them."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from memori.core import DimensionMismatchError, InvalidIdError, Memory, Scope
from memori.core.store_rules import (
    check_item_ids,
    check_patch,
    check_scope,
    check_store_limit,
    check_vector,
    patch_memory,
)


@pytest.mark.parametrize("limit", [None, 0, 1, 300])
def test_limits_that_pass(limit: int | None) -> None:
    check_store_limit(limit)


@pytest.mark.parametrize(("limit", "error"), [
    (-1, ValueError), (True, TypeError), (1.0, TypeError), ("3", TypeError),
])
def test_limits_that_fail(limit: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="offset"):
        check_store_limit(limit, "offset")


def test_scope_must_be_a_scope() -> None:
    assert check_scope(Scope("u")) == Scope("u")
    with pytest.raises(TypeError, match="Scope"):
        check_scope(("u", None, None))


@pytest.mark.parametrize("vector", [
    [0.5, 1, -2], (0.5, 1, -2), np.array([0.5, 1, -2], dtype=np.float32),
    np.array([0.5, 1, -2], dtype=np.float64), array("d", [0.5, 1, -2]),
])
def test_vectors_of_every_kind_become_float32(vector: object) -> None:
    values = check_vector(vector, 3)
    assert values.typecode == "f" and values.tolist() == [0.5, 1.0, -2.0]
    assert np.frombuffer(values, dtype=np.float32).tolist() == [0.5, 1.0, -2.0]


@pytest.mark.parametrize(("vector", "error"), [
    ([1.0, 2.0], DimensionMismatchError),
    ([1.0] * 4, DimensionMismatchError),
    (np.ones((3, 1), dtype=np.float32), DimensionMismatchError),
    ([1.0, float("nan"), 0.0], ValueError),
    ([1.0, float("inf"), 0.0], ValueError),
    ([1e39, 0.0, 0.0], ValueError),  # finite in float64, infinite in float32
    ("abc", ValueError),
    ([[1.0], [2.0], [3.0]], ValueError),
    ([1.0, "x", 0.0], ValueError),
])
def test_bad_vectors_are_refused(vector: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_vector(vector, 3)


def test_a_store_without_vectors_refuses_every_vector() -> None:
    with pytest.raises(DimensionMismatchError, match="vector_dim=None"):
        check_vector([1.0], None)


def test_a_patch_is_checked_and_normalised() -> None:
    patch = check_patch({"kind": "goal", "embedding": np.ones(2), "source_turn_ids": ["t1"],
                         "count": "3", "metadata": None, "superseded_by": None}, 2)
    assert patch == {"kind": "goal", "embedding": (1.0, 1.0), "source_turn_ids": ("t1",),
                     "count": 3, "metadata": {}, "superseded_by": None}
    with pytest.raises(ValueError, match="entity_id"):
        check_patch({"entity_id": "someone else"}, 2)
    with pytest.raises(ValueError, match="content"):
        check_patch({"content": 3}, 2)
    with pytest.raises(DimensionMismatchError):
        check_patch({"embedding": [1.0, 2.0, 3.0]}, 2)
    # a store opened without vectors keeps none, as put_memories drops them
    assert check_patch({"embedding": [1.0, 2.0, 3.0]}, None) == {"embedding": None}
    with pytest.raises(InvalidIdError):
        check_patch({"superseded_by": "bad\x00id"}, 2)


def test_patch_memory_applies_the_checked_changes() -> None:
    memory = Memory("u", "likes tea")
    changed = patch_memory(memory, {"content": "likes coffee", "shared": 1}, None)
    assert (changed.content, changed.shared, changed.id) == ("likes coffee", True, memory.id)


def test_item_ids() -> None:
    assert check_item_ids(None, "turn_id") is None
    assert check_item_ids(("a", "b"), "turn_id") == ["a", "b"]
    with pytest.raises(TypeError, match="not one str"):
        check_item_ids("ab", "turn_id")
    with pytest.raises(InvalidIdError):
        check_item_ids(["a", " "], "turn_id")
