"""The conformance suite against the Qdrant backend: local mode sync and async, and a server.

Local mode keeps its data in the client object, so every handle of a class shares
one client: a ``QdrantClient(":memory:")`` (sync calls; async ones in a thread) and
an ``AsyncQdrantClient(":memory:")`` (native async calls; sync ones stepped).
``MEMORI_TEST_QDRANT_URL`` (``http://host:6333`` or ``qdrant+http://...``) adds a
run against a real server, under a fresh collection prefix dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("qdrant_client")

from qdrant_client import AsyncQdrantClient, QdrantClient

from memori.backends.qdrant.store import QdrantStore, open_store
from memori.backends.qdrant.urls import parse_url
from memori.conformance import StoreConformance

SERVER_URL = os.environ.get("MEMORI_TEST_QDRANT_URL")


class TestQdrantLocal(StoreConformance):
    """qdrant-client local mode through a sync ``QdrantClient``."""

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> Iterator[QdrantClient]:
        client = QdrantClient(":memory:")
        yield client
        client.close()

    @pytest.fixture
    def make_store(self, lifespan: Any) -> Iterator[Callable[..., QdrantStore]]:
        # Each test gets collections of its own: local mode scans a collection in Python,
        # so one shared by the whole class made every later test slower (41 s against
        # 6.6 s alone for the slowest). Handles of one test still share its collections.
        prefix = f"t{uuid.uuid4().hex[:10]}_"

        def factory(**options: Any) -> QdrantStore:
            return open_store(lifespan, **{"collection_prefix": prefix, **options})

        yield factory
        _drop_collections(lifespan, prefix)


def _drop_collections(client: Any, prefix: str) -> None:
    """Drop the collections a test made (sync or async local client)."""
    for suffix in ("turns", "memories", "meta"):
        name = f"{prefix}{suffix}"
        if isinstance(client, AsyncQdrantClient):  # local mode: bound to no event loop
            asyncio.run(_adrop(client, name))
        elif client.collection_exists(name):
            client.delete_collection(name)


async def _adrop(client: AsyncQdrantClient, name: str) -> None:
    if await client.collection_exists(name):
        await client.delete_collection(name)


class TestQdrantLocalAsync(TestQdrantLocal):
    """qdrant-client local mode through an ``AsyncQdrantClient`` (native async calls)."""

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> Iterator[AsyncQdrantClient]:
        yield AsyncQdrantClient(":memory:")


@pytest.mark.skipif(SERVER_URL is None, reason="set MEMORI_TEST_QDRANT_URL to run on a server")
class TestQdrantServer(StoreConformance):
    """A real Qdrant server (sync client; async calls on its AsyncQdrantClient twin)."""

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> Iterator[tuple[QdrantClient, str]]:
        assert SERVER_URL is not None
        url = SERVER_URL if SERVER_URL.startswith("qdrant") else f"qdrant+{SERVER_URL}"
        client = QdrantClient(**parse_url(url).client_options())
        prefix = f"mc{uuid.uuid4().hex[:10]}_"
        yield client, prefix
        for suffix in ("turns", "memories", "meta"):
            if client.collection_exists(f"{prefix}{suffix}"):
                client.delete_collection(f"{prefix}{suffix}")
        client.close()

    @pytest.fixture
    def make_store(self, lifespan: tuple[QdrantClient, str]) -> Callable[..., QdrantStore]:
        client, prefix = lifespan

        def factory(**options: Any) -> QdrantStore:
            return open_store(client, collection_prefix=prefix, **options)

        return factory
