"""A deterministic embedder with no model: feature hashing of words (and character n-grams).

Meant for tests and for apps that want vectors without any model: the same text gives
the same vector in every process (blake2b, never Python's salted ``hash()``), and texts
that share words get similar vectors.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from memori.core import ConfigurationError

_WORD = re.compile(r"\w+")
_EMPTY_FEATURE = "\x00empty"


@lru_cache(maxsize=65536)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """The index and sign a feature adds to (signed feature hashing)."""
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if value >> 63 else -1.0)


class HashEmbedder:
    """Feature-hashing embedder: ``dim`` buckets, L2-normalised, deterministic across runs.

    Words (lower-cased ``\\w+`` tokens) weigh 1; with ``char_ngrams=n`` the character
    n-grams of each word (padded with ``#``) are added at half weight, which makes
    spelling variants ("run", "running") close as well.
    """

    def __init__(self, dim: int = 64, *, char_ngrams: int = 0) -> None:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 2:
            raise ConfigurationError(f"HashEmbedder dim must be an integer >= 2, got {dim!r}")
        if char_ngrams < 0 or char_ngrams == 1:
            raise ConfigurationError("char_ngrams is 0 (off) or an n-gram length >= 2")
        self.dim = dim
        self.char_ngrams = char_ngrams
        self.name = f"hash-{dim}" + (f"-c{char_ngrams}" if char_ngrams else "")

    def __repr__(self) -> str:
        return f"HashEmbedder(dim={self.dim}, char_ngrams={self.char_ngrams})"

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD.findall(text.lower())
        features = [(w, 1.0) for w in words]
        n = self.char_ngrams
        if n:
            for word in words:
                padded = f"#{word}#"
                features.extend(
                    (f"\x01{padded[i : i + n]}", 0.5) for i in range(max(1, len(padded) - n + 1))
                )
        return features or [(_EMPTY_FEATURE, 1.0)]

    def embed_one(self, text: str) -> list[float]:
        """The unit vector of one text."""
        if not isinstance(text, str):
            raise TypeError(f"embed() takes strings, got {type(text).__name__}")
        vector = [0.0] * self.dim
        for feature, weight in self._features(text):
            index, sign = _bucket(feature, self.dim)
            vector[index] += sign * weight
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:  # every feature cancelled out: fall back to the empty-text vector
            return self.embed_one("")
        return [x / norm for x in vector]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of ``dim`` floats per text, in order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        return [self.embed_one(text) for text in texts]


def create_hash_embedder(arg: str | None = None, **options: Any) -> HashEmbedder:
    """Registry factory for ``"hash"`` and ``"hash:<dim>"``."""
    if arg is None or arg == "":
        return HashEmbedder(**options)
    try:
        dim = int(arg)
    except ValueError:
        raise ConfigurationError(f"'hash:<dim>' needs an integer dimension, got {arg!r}") from None
    return HashEmbedder(dim, **options)
