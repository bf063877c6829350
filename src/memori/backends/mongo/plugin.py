"""Registers the MongoDB backend (imports no driver)."""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl

SPEC = BackendSpec(
    name="mongo",
    loader="memori.backends.mongo.store:open_store",
    schemes=("mongodb", "mongodb+srv"),
    object_types=(
        "pymongo.synchronous.mongo_client.MongoClient",
        "pymongo.asynchronous.mongo_client.AsyncMongoClient",
        "pymongo.synchronous.database.Database",
        "pymongo.asynchronous.database.AsyncDatabase",
    ),
    extra="mongo",
    requires=("pymongo",),
    description="MongoDB: compound indexes on entity_id, text and vector search or exact fallback.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
