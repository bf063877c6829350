"""Turn the user's ``retriever=`` setting into a retriever object (None: the built-in hybrid)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from memori.core import ConfigurationError, Embedder, Retriever, get_plugins
from memori.retrieval.hybrid import HybridRetriever


def _takes_embedder(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return any((p.name == "embedder" and p.kind is not p.POSITIONAL_ONLY)
               or p.kind is p.VAR_KEYWORD for p in params)


def resolve_retriever(
    value: Retriever | str | None, *, embedder: Embedder | None = None, **options: Any
) -> Retriever:
    """None -> a :class:`HybridRetriever` on ``embedder``; a registered name ("hybrid")
    -> a new one; an object with ``retrieve()`` -> itself.

    A named retriever's factory gets ``options`` (over the spec's own), and
    ``embedder=embedder`` when it accepts that keyword, so it embeds queries with
    the model that embedded the stored items.
    """
    if value is None:
        return HybridRetriever(embedder=embedder)
    if not isinstance(value, str):
        if callable(getattr(value, "retrieve", None)):
            return value
        raise ConfigurationError(f"retriever must be a name or have retrieve(); got {value!r}")
    name = value.strip()
    registered = get_plugins().retrievers
    spec = registered.get(name)
    if spec is None:
        known = ", ".join(sorted(registered)) or "none"
        raise ConfigurationError(f"unknown retriever {value!r}; registered names: {known}")
    factory = spec.load()
    kwargs = {**spec.options, **options}
    if _takes_embedder(factory):
        kwargs["embedder"] = embedder
    retriever = factory(**kwargs)
    if not callable(getattr(retriever, "retrieve", None)):
        raise ConfigurationError(
            f"retriever {name!r} built a {type(retriever).__name__}, which has no retrieve()"
        )
    return retriever  # type: ignore[no-any-return]
