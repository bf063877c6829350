"""Vectors on PostgreSQL: pgvector's text form for statements, its binary form for COPY.

Every vector is checked by ``store_rules.check_vector`` against the store's
dimension before it reaches the database; reads parse pgvector's text output back
into a tuple of floats.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence
from typing import Any

from memori.core.store_rules import check_vector


def to_text(values: array[float]) -> str:
    """pgvector's input text: ``[1.0,2.5,...]`` (float32 values, shortest round-trip form)."""
    return "[" + ",".join(map(repr, values.tolist())) + "]"


def from_text(value: Any) -> tuple[float, ...] | None:
    """Parse pgvector's output text (None stays None)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in ("[]", ""):
        return ()
    return tuple(map(float, text[1:-1].split(",")))


def to_binary(values: array[float]) -> bytes:
    """pgvector's binary form (``vector_recv``): dimension, a reserved word, float32s."""
    big_endian = array("f", values)
    if sys.byteorder == "little":
        big_endian.byteswap()
    return struct.pack(">HH", len(values), 0) + big_endian.tobytes()


class VectorCodec:
    """Encodes a model's embedding for this store (None when the store keeps no vectors)."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim

    def check(self, vector: Sequence[float] | None) -> array[float] | None:
        """The checked vector, or None (no vector, or a store without vectors)."""
        if vector is None or self.dim is None:
            return None
        return check_vector(vector, self.dim)

    def encode(self, vector: Sequence[float] | None) -> str | None:
        """Column value for statements: pgvector text, or None."""
        checked = self.check(vector)
        return None if checked is None else to_text(checked)
