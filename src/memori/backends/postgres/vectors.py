"""Vectors on PostgreSQL: pgvector's text form for statements, its binary form for COPY.

Every vector is checked against the store's dimension before it reaches the
database; reads parse pgvector's text output back into a tuple of floats.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memori.core.errors import DimensionMismatchError


def check_vector(vector: Sequence[float], dim: int | None) -> npt.NDArray[np.float32]:
    """The vector as float32, after checking its dimension and that it is finite."""
    if dim is None:
        raise DimensionMismatchError("this store was opened with vector_dim=None: no vectors")
    if isinstance(vector, (str, bytes)):
        raise ValueError("a vector must be a sequence of numbers")
    try:
        with np.errstate(over="ignore"):
            arr = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError("a vector must be a sequence of numbers") from e
    if arr.ndim != 1 or arr.shape[0] != dim:
        got = arr.shape[0] if arr.ndim == 1 else arr.shape
        raise DimensionMismatchError(f"vector has {got} components, the store expects {dim}")
    if not np.isfinite(arr).all():
        raise ValueError("a vector must hold finite float32 numbers only")
    return arr


def to_text(values: npt.NDArray[np.float32]) -> str:
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


_BIG_ENDIAN_F4 = np.dtype(">f4")


def to_binary(values: npt.NDArray[np.float32]) -> bytes:
    """pgvector's binary form (``vector_recv``): dimension, a reserved word, float32s."""
    return struct.pack(">HH", values.shape[0], 0) + values.astype(_BIG_ENDIAN_F4).tobytes()


class VectorCodec:
    """Encodes a model's embedding for this store (None when the store keeps no vectors)."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim

    def check(self, vector: Sequence[float] | None) -> npt.NDArray[np.float32] | None:
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
