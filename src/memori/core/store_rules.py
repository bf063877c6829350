"""The argument and value rules every store applies, written once.

Limits, scopes, vectors and memory patches are checked here for every backend,
so a wrong argument fails the same way whichever store holds the data.
Standard library only: a vector comes back as an ``array('f')`` (float32), which
numpy reads without a copy (``numpy.frombuffer(values, dtype=numpy.float32)``).
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from memori.core.errors import DimensionMismatchError
from memori.core.ids import check_id, check_optional_id
from memori.core.models import MEMORY_PATCH_FIELDS, Memory, Scope


def check_store_limit(limit: Any, name: str = "limit") -> None:
    """``limit`` must be None or an int >= 0 (``TypeError`` / ``ValueError`` otherwise)."""
    if limit is None:
        return
    if type(limit) is not int:
        raise TypeError(f"{name} must be an int, got {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"{name} must not be negative, got {limit}")


def check_scope(scope: Any) -> Scope:
    if not isinstance(scope, Scope):
        raise TypeError(f"scope must be a memori Scope, got {type(scope).__name__}")
    return scope


def check_vector(vector: Any, dim: int | None) -> array[float]:
    """``vector`` as float32 values after checking its size and that each one is finite.

    A store opened with ``vector_dim=None`` holds no vectors: any vector is a
    ``DimensionMismatchError``, as is one of the wrong size.
    """
    if dim is None:
        raise DimensionMismatchError("this store was opened with vector_dim=None: no vectors")
    if isinstance(vector, str | bytes | bytearray):
        raise ValueError("a vector must be a sequence of numbers")
    values = _float32(vector)
    if len(values) != dim:
        raise DimensionMismatchError(
            f"vector has {len(values)} components, the store expects {dim}")
    # float32 values summed in double precision cannot overflow: the sum is finite
    # exactly when every value is (inf - inf is nan)
    if not math.isfinite(sum(values)):
        raise ValueError("a vector must hold finite float32 numbers only")
    return values


def _float32(vector: Any) -> array[float]:
    try:
        view = memoryview(vector)
    except TypeError:
        view = None
    if view is not None:
        if view.ndim != 1:
            raise DimensionMismatchError(f"a vector has one dimension, got shape {view.shape}")
        if view.format in ("f", "<f", "=f") and view.c_contiguous:
            out = array("f")
            out.frombytes(view.cast("B"))
            return out
        if view.format in ("d", "<d", "=d"):
            return array("f", view.tolist())
    try:
        return array("f", vector)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError("a vector must be a sequence of numbers") from e


def check_patch(changes: Mapping[str, Any], dim: int | None) -> dict[str, Any]:
    """The changes of ``update_memory`` checked and in their stored types.

    Unknown fields are a ``ValueError``; ``embedding`` comes back as a tuple of
    float32 values (None when cleared or when the store keeps no vectors), ``kind``
    as a str.
    """
    unknown = set(changes) - MEMORY_PATCH_FIELDS
    if unknown:
        raise ValueError(f"cannot update memory fields: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        out[key] = _PATCH[key](value, dim)
    return out


def patch_memory(memory: Memory, changes: Mapping[str, Any], dim: int | None) -> Memory:
    """``memory`` with the checked ``changes`` applied (for stores that rewrite whole items)."""
    return dataclasses.replace(memory, **check_patch(changes, dim))


def _content(value: Any, _dim: int | None) -> str:
    if not isinstance(value, str):
        raise ValueError("content must be a str")
    return value


def _kind(value: Any, _dim: int | None) -> str:
    return str(getattr(value, "value", value))


def _time(value: Any, _dim: int | None) -> float | None:
    return None if value is None else float(value)


def _embedding(value: Any, dim: int | None) -> tuple[float, ...] | None:
    """A store opened with ``vector_dim=None`` keeps no vectors: the embedding is dropped,
    as ``put_memories`` drops it (the reference store's rule)."""
    return None if value is None or dim is None else tuple(check_vector(value, dim))


_PATCH: dict[str, Any] = {
    "content": _content,
    "kind": _kind,
    "shared": lambda v, _d: bool(v),
    "count": lambda v, _d: int(v),
    "last_seen_at": _time,
    "updated_at": _time,
    "superseded_by": lambda v, _d: check_optional_id(v, "superseded_by"),
    "metadata": lambda v, _d: dict(v or {}),
    "embedding": _embedding,
    "source_turn_ids": lambda v, _d: tuple(check_id(t, "source_turn_id") for t in (v or ())),
    "pinned": lambda v, _d: bool(v),
    "expires_at": _time,
}


def check_item_ids(ids: Sequence[str] | None, name: str) -> list[str] | None:
    """The ids of a delete or lookup, each checked (None: every item of the scope)."""
    if ids is None:
        return None
    if isinstance(ids, str):
        raise TypeError(f"{name}s must be a sequence of ids, not one str")
    return [check_id(i, name) for i in ids]
