"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint, via the ``openai`` package.

Works with OpenAI itself and with local servers that speak the same API (vLLM,
llama.cpp, Ollama, LM Studio, text-embeddings-inference). Vectors are L2-normalised
here, since not every server returns unit vectors.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

from memori.core import ConfigurationError, DimensionMismatchError, MissingExtraError

#: Native dimensions of well-known models, so no request is needed to learn them.
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_MODEL = "text-embedding-3-small"
#: Inputs per request (OpenAI accepts up to 2,048).
MAX_BATCH = 256


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValueError("the embeddings endpoint returned a zero or non-finite vector")
    return [float(x) / norm for x in vector]


class OpenAIEmbedder:
    """An embedder backed by ``client.embeddings.create`` (sync ``openai.OpenAI`` client).

    ``dim`` is the vector size: if given for a ``text-embedding-3`` model it is sent as
    ``dimensions``; otherwise it is known for common models or learned from the first
    response (one short request when ``dim`` is read before any ``embed``).
    ``async_client`` (an ``openai.AsyncOpenAI``) serves :meth:`aembed` natively.
    """

    gil_free = True
    """A network call: the retriever searches text while it waits."""

    def __init__(
        self,
        client: Any = None,
        model: str = DEFAULT_MODEL,
        dim: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        async_client: Any = None,
        batch_size: int = MAX_BATCH,
    ) -> None:
        if not model:
            raise ConfigurationError("OpenAIEmbedder needs a model name")
        if dim is not None and dim < 1:
            raise ConfigurationError(f"dim must be positive, got {dim}")
        if not 1 <= batch_size <= 2048:
            raise ConfigurationError("batch_size must be between 1 and 2048")
        self.model = model
        self.name = f"openai:{model}" + (f"@{dim}" if dim else "")
        self.batch_size = batch_size
        self._requested_dim = dim
        self._send_dimensions = dim is not None and model.startswith("text-embedding-3")
        self._dim: int | None = dim or KNOWN_DIMS.get(model)
        self._dim_lock = threading.Lock()
        self._async_client = async_client
        self._client = client
        if client is None and (async_client is None or base_url or api_key):
            self._client = _make_client(base_url, api_key)

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model!r}, dim={self._dim})"

    @property
    def dim(self) -> int:
        """The vector size (asks the endpoint once if it is not known yet)."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    @dim.setter
    def dim(self, value: int) -> None:
        # Settable so the class satisfies ``Embedder`` (whose ``dim`` is a plain attribute).
        if value < 1:
            raise ConfigurationError(f"dim must be positive, got {value}")
        self._dim = value

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors, one per text, in order; empty texts are sent as one space."""
        _check_texts(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._request(list(texts[start : start + self.batch_size])))
        return vectors

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` for async code: on ``async_client`` if given, else in a thread."""
        if self._async_client is None:
            return await asyncio.to_thread(self.embed, texts)
        _check_texts(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            response = await self._async_client.embeddings.create(**self._request_args(batch))
            vectors.extend(self._vectors(response, len(batch)))
        return vectors

    def _request_args(self, texts: list[str]) -> dict[str, Any]:
        # OpenAI rejects empty strings; a space embeds as "nothing" everywhere.
        inputs = [t if t.strip() else " " for t in texts]
        kwargs: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self._send_dimensions:
            kwargs["dimensions"] = self._requested_dim
        return kwargs

    def _request(self, texts: list[str]) -> list[list[float]]:
        if self._client is None:
            raise ConfigurationError(
                "this OpenAIEmbedder has only an async client: use aembed(), or pass client="
            )
        response = self._client.embeddings.create(**self._request_args(texts))
        return self._vectors(response, len(texts))

    def _vectors(self, response: Any, expected: int) -> list[list[float]]:
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != expected:
            raise ValueError(
                f"the embeddings endpoint returned {len(data)} vectors for {expected} inputs"
            )
        vectors = [_normalise(item.embedding) for item in data]
        for vector in vectors:
            self._check_dim(len(vector))
        return vectors

    def _check_dim(self, size: int) -> None:
        with self._dim_lock:
            if self._dim is None:
                self._dim = size
        if size != self._dim:
            raise DimensionMismatchError(
                f"model {self.model!r} returned {size} dimensions, expected {self._dim}"
            )


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not one string")
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"embed() takes strings, got {type(text).__name__}")


def _make_client(base_url: str | None, api_key: str | None) -> Any:
    try:
        from openai import OpenAI
    except ImportError as e:
        raise MissingExtraError("openai", "the OpenAI embedder") from e
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if key is None and base_url is None and not os.environ.get("OPENAI_BASE_URL"):
        raise ConfigurationError(
            "OpenAIEmbedder needs api_key (or OPENAI_API_KEY), a base_url, or a client"
        )
    # Local OpenAI-compatible servers usually need no key, but the client insists on one.
    return OpenAI(base_url=base_url, api_key=key or "not-needed")


def create_openai_embedder(arg: str | None = None, **options: Any) -> OpenAIEmbedder:
    """Registry factory for ``"openai"`` and ``"openai:<model>"``."""
    if arg:
        options["model"] = arg
    return OpenAIEmbedder(**options)
