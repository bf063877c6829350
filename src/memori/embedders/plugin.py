"""Registers the built-in embedders (imports no model runtime).

An embedder spec's loader names a factory ``f(arg=None, **options)``: the name
``"hash:128"`` calls the ``hash`` factory with ``"128"``, plain ``"hash"`` with no
argument. Third-party embedders register the same way.
"""

from __future__ import annotations

from typing import Any

from memori.core import ComponentSpec, hookimpl

SPECS = (
    ComponentSpec(
        "local",
        "memori.embedders.local:create_local_embedder",
        description="all-MiniLM-L6-v2 (int8 ONNX) run offline on onnxruntime; 384 dimensions.",
    ),
    ComponentSpec(
        "hash",
        "memori.embedders.hashing:create_hash_embedder",
        description="Deterministic feature-hashing test embedder (no model); 'hash:<dim>'.",
    ),
    ComponentSpec(
        "openai",
        "memori.embedders.openai_compat:create_openai_embedder",
        extra="openai",
        description="Any OpenAI-compatible /v1/embeddings endpoint; 'openai:<model>'.",
    ),
)


@hookimpl
def memori_register_embedders(register: Any) -> None:
    for spec in SPECS:
        register(spec)
