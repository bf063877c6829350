"""A coarse int8 copy of a set's vectors: which rows can be among the nearest, exactly.

Scanning a large entity's float32 matrix reads 1,536 bytes a row; after the rest of
a call has been through the CPU's caches they come from main memory, and the scan
waits on them (about 1.7 ms for 10,000 rows, against 0.6 ms warm). An int8 copy
(one scale a row) is a quarter of the bytes. SimSIMD (``simsimd``, prebuilt wheels
for Linux, macOS and Windows) multiplies it exactly in integers (0.5 ms cold, 0.17
warm); numpy has no fast int8 product, so without SimSIMD the set scans float32 as
before.

The coarse scores only choose which rows to score exactly. Each row's error is
bounded: with ``x = s*a + e`` (``|e| <= s/2`` element-wise) and the query ``q = t*b
+ f`` (``|f| <= t/2``), ``|x.q - s*t*(a.b)| <= t/2*|x|_1 + s/2*|q|_1 + dim*s*t/4``,
plus a margin for the float32 arithmetic of the exact scan. A row whose upper bound
is below the ``k``-th best lower bound is below ``k`` rows whatever the exact
scores are; every other row is scored as before, so the nearest rows, their
cosines and the order of equal ones are those of the float32 scan, bit for bit.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
CodeArray = npt.NDArray[np.int8]

MIN_ROWS = 2048
"""Fewer visible rows than this: the float32 scan is cheap, scan it alone."""
FLOAT32_MARGIN = 1e-4
"""Cosine margin for the float32 scan's own rounding (at most dim x 2**-24, 2.3e-5 at
384 dimensions) and the coarse score's float64 arithmetic."""


def _load_simsimd() -> ModuleType | None:
    try:
        return importlib.import_module("simsimd")
    except ImportError:
        return None


SIMSIMD: ModuleType | None = _load_simsimd()


def available() -> bool:
    """Whether coarse scans run here (SimSIMD is installed)."""
    return SIMSIMD is not None


def quantize(
    rows: FloatArray, norms: FloatArray,
) -> tuple[CodeArray, FloatArray, FloatArray]:
    """Per-row int8 codes of ``rows`` with two factors of their error bound: the scale
    and the L1 length, each over the row's length (``norms``; a zero row: all zero)."""
    peak = np.abs(rows).max(axis=1) if rows.shape[0] else np.zeros(0, dtype=np.float32)
    scales = (peak / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(rows / safe[:, None]), -127, 127).astype(np.int8)
    l1 = np.abs(rows).sum(axis=1, dtype=np.float64)
    length = norms.astype(np.float64)
    inverse = np.divide(1.0, length, out=np.zeros_like(length), where=length > 0)
    return codes, (scales * inverse).astype(np.float32), (l1 * inverse).astype(np.float32)


def int_dots(codes: CodeArray, query_codes: CodeArray) -> FloatArray:
    """``codes . query_codes`` for each row, exact (integers below 2**24), by SimSIMD."""
    assert SIMSIMD is not None
    out: Any = SIMSIMD.cdist(codes, query_codes[None, :], metric="dot", threads=1,
                             out_dtype="float32")
    return np.asarray(out).reshape(-1)


def may_be_nearest(
    int_dot: FloatArray, scale_ratio: FloatArray, l1_ratio: FloatArray,
    query: FloatArray, query_scale: float, k: int,
) -> npt.NDArray[np.bool_]:
    """Which rows can be among the ``k`` of highest cosine with ``query``; the arrays are
    parallel, per row: ``int_dots``, and the ratios ``quantize`` gives."""
    q = query.astype(np.float64)
    q_norm = float(np.linalg.norm(q))
    if q_norm == 0.0:
        return np.ones(int_dot.shape[0], dtype=np.bool_)
    t = query_scale / q_norm
    per_scale = (float(np.abs(q).sum()) / 2.0 + query.shape[0] * query_scale / 4.0) / q_norm
    approx = scale_ratio * np.float32(t) * int_dot
    spread = l1_ratio * np.float32(t / 2.0) + scale_ratio * np.float32(per_scale)
    spread += np.float32(FLOAT32_MARGIN)
    lower = approx - spread
    # cosines are clipped to [-1, 1]: a cut inside keeps clipping from making ties
    cut = min(float(-np.partition(-lower, k - 1)[k - 1]), 1.0)
    if cut <= -1.0:
        return np.ones(int_dot.shape[0], dtype=np.bool_)
    keep: npt.NDArray[np.bool_] = approx + spread >= np.float32(cut)
    return keep


def quantize_query(query: FloatArray) -> tuple[CodeArray, float]:
    """The query's int8 codes and scale."""
    scale = float(np.abs(query).max()) / 127.0 if query.size else 0.0
    if scale == 0.0:
        return np.zeros(query.shape[0], dtype=np.int8), 0.0
    codes: CodeArray = np.rint(query / np.float32(scale)).clip(-127, 127).astype(np.int8)
    return codes, float(np.float32(scale))
