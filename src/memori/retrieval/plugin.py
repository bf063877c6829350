"""Registers the built-in retrievers."""

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
