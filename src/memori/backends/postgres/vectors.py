"""Vectors on PostgreSQL: pgvector's text form for statements, its binary form for COPY.

Every vector is checked against the store's dimension before it reaches the
database; reads parse pgvector's text output back into a tuple of floats.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

from memori.core.errors import DimensionMismatchError


def check_vector(vector: Sequence[float], dim: int | None) -> tuple[float, ...]:
    """The vector as floats, after checking its dimension and that it is finite."""
    if dim is None:
        raise DimensionMismatchError("this store was opened with vector_dim=None: no vectors")
    if isinstance(vector, (str, bytes)):
        raise ValueError("a vector must be a sequence of numbers")
    try:
        values = tuple(float(x) for x in vector)
    except (TypeError, ValueError) as e:
        raise ValueError("a vector must be a sequence of numbers") from e
    if len(values) != dim:
        raise DimensionMismatchError(
            f"vector has {len(values)} components, the store expects {dim}"
        )
    if not all(math.isfinite(x) for x in values):
        raise ValueError("a vector must hold finite numbers only")
    return values


def to_text(values: Sequence[float]) -> str:
    """pgvector's input text: ``[1.0,2.5,...]``."""
    return "[" + ",".join(repr(float(x)) for x in values) + "]"


def from_text(value: Any) -> tuple[float, ...] | None:
    """Parse pgvector's output text (None stays None)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in ("[]", ""):
        return ()
    return tuple(float(x) for x in text[1:-1].split(","))


def to_binary(values: Sequence[float]) -> bytes:
    """pgvector's binary form (``vector_recv``): dimension, a reserved word, float32s."""
    n = len(values)
    return struct.pack(f">HH{n}f", n, 0, *values)


class VectorCodec:
    """Encodes a model's embedding for this store (None when the store keeps no vectors)."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim

    def check(self, vector: Sequence[float] | None) -> tuple[float, ...] | None:
        """The checked vector, or None (no vector, or a store without vectors)."""
        if vector is None or self.dim is None:
            return None
        return check_vector(vector, self.dim)

    def encode(self, vector: Sequence[float] | None) -> str | None:
        """Column value for statements: pgvector text, or None."""
        if vector is None or self.dim is None:
            return None
        return to_text(check_vector(vector, self.dim))

    def encode_binary(self, vector: Sequence[float] | None) -> bytes | None:
        """Column value for binary COPY, or None."""
        if vector is None or self.dim is None:
            return None
        return to_binary(check_vector(vector, self.dim))

    @staticmethod
    def decode(value: Any) -> tuple[float, ...] | None:
        return from_text(value)
