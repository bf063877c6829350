"""Deterministic embeddings for the OpenAI test server.

Vectors are hashed bags of words, L2-normalised: the same text always gives the same vector
and texts sharing words have a higher cosine similarity, so retrieval tests stay meaningful.
"""

from __future__ import annotations

import array
import base64
import hashlib
import math
import re
import sys
from typing import Any

from memori.testing.openai_records import RecordedRequest

__all__ = ["embed_text", "embeddings_body"]

_TOKEN = re.compile(r"\w+", re.UNICODE)
_SLOTS_PER_TOKEN = 4


def embed_text(text: str, dim: int) -> list[float]:
    """A unit vector of `dim` floats for `text`, stable across processes and platforms."""
    if dim < 1:
        raise ValueError(f"embedding dimension must be >= 1, got {dim}")
    vector = [0.0] * dim
    tokens = _TOKEN.findall(text.lower()) or [text]
    for token in tokens:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4 * _SLOTS_PER_TOKEN).digest()
        for slot in range(_SLOTS_PER_TOKEN):
            word = int.from_bytes(digest[4 * slot : 4 * slot + 4], "little")
            vector[(word >> 1) % dim] += 1.0 if word & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:  # every slot cancelled out: fall back to a fixed axis
        vector[0], norm = 1.0, 1.0
    return [value / norm for value in vector]


def embeddings_body(request: RecordedRequest, default_dim: int) -> dict[str, Any]:
    """The `/v1/embeddings` answer, honouring `dimensions` and `encoding_format`.

    Raises ValueError for an empty input, which the server turns into a 400 like the API.
    """
    body = request.json
    requested = body.get("dimensions")
    dim = requested if isinstance(requested, int) and requested > 0 else default_dim
    as_base64 = body.get("encoding_format") == "base64"
    texts = _input_texts(body.get("input"))
    if not texts or any(text == "" for text in texts):
        raise ValueError("'input' must be a non-empty string or a non-empty list of them")
    data: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        vector = embed_text(text, dim)
        encoded: Any = vector
        if as_base64:
            encoded = _base64_float32(vector)
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(1, len(text.split())) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": request.model or "unknown",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _base64_float32(vector: list[float]) -> str:
    """Little-endian float32 bytes in base64, as the API sends for `encoding_format=base64`."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _input_texts(raw: Any) -> list[str]:
    """`input` as texts: a string, a list of strings, or token ids (one list or several)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, int) for item in raw):
        return [" ".join(str(token) for token in raw)]
    if isinstance(raw, list):
        return [
            item if isinstance(item, str) else " ".join(str(token) for token in item)
            for item in raw
            if isinstance(item, str | list)
        ]
    return []
