"""Registers the built-in retrievers.

A retriever spec's loader names a factory; ``Memori(retriever="name")`` calls it
with ``embedder=`` the Memori's embedder when the factory accepts that keyword
(see :func:`memori.retrieval.resolve.resolve_retriever`). Third-party retrievers
register the same way.
"""

from __future__ import annotations

from typing import Any

from memori.core import ComponentSpec, hookimpl


@hookimpl
def memori_register_retrievers(register: Any) -> None:
    register(ComponentSpec(
        "hybrid", "memori.retrieval.hybrid:HybridRetriever",
        description="Text + dense + recency over memories and turns: weighted RRF, "
                    "conversation context, rerank hook.",
    ))
