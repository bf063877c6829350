"""Registers the Qdrant backend (imports no driver)."""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl

SPEC = BackendSpec(
    name="qdrant",
    loader="memori.backends.qdrant.store:open_store",
    schemes=("qdrant", "qdrant+http", "qdrant+https", "qdrant+path", "qdrant+memory"),
    object_types=(
        "qdrant_client.qdrant_client.QdrantClient",
        "qdrant_client.async_qdrant_client.AsyncQdrantClient",
    ),
    extra="qdrant",
    requires=("qdrant_client",),
    description="Qdrant: dense + sparse vectors, server-side hybrid fusion, tenant payload index.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
