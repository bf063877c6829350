"""The conformance suite against MongoDB: a store opened from a URL, and one on the
caller's own ``MongoClient`` and ``AsyncMongoClient`` (sync and native async paths).

The server is ``MEMORI_TEST_MONGO_URL`` if set, else a MongoDB wire-protocol
server (``secantusd-py``, in memory) started once per test session. Each class
works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("pymongo", reason="the mongo extra is not installed")

from pymongo import AsyncMongoClient, MongoClient

from memori.backends.mongo.store import MongoStore, open_store
from memori.conformance import StoreConformance
from memori.testing.mongo_server import URL_ENV, shared_server

Doc = dict[str, Any]


@pytest.fixture(scope="session")
def mongo_url() -> str:
    if not os.environ.get(URL_ENV):
        pytest.importorskip("secantus", reason=f"pip install secantusdb, or set {URL_ENV}")
    return shared_server().url


def _drop_database(url: str, name: str) -> None:
    client: MongoClient[Doc] = MongoClient(url)
    try:
        client.drop_database(name)
    finally:
        client.close()


class TestMongo(StoreConformance):
    """Opened from a ``mongodb://`` URL: the store creates its sync and async clients itself."""

    @pytest.fixture
    def lifespan(self, mongo_url: str) -> Iterator[tuple[str, str]]:
        # A database per test: the test server scans a collection to filter it, so one
        # shared by a whole class made each later test slower.
        database = f"memori_conf_{uuid.uuid4().hex[:12]}"
        yield mongo_url, database
        _drop_database(mongo_url, database)

    @pytest.fixture
    def make_store(self, lifespan: tuple[str, str]) -> Callable[..., MongoStore]:
        url, database = lifespan

        def factory(**options: Any) -> MongoStore:
            return open_store(url, database=database, **options)

        return factory


class TestMongoOnCallerClients(TestMongo):
    """On the caller's ``MongoClient`` plus ``AsyncMongoClient``, which the store leaves open."""

    @pytest_asyncio.fixture
    async def make_store(
        self, lifespan: tuple[str, str]
    ) -> AsyncIterator[Callable[..., MongoStore]]:
        url, database = lifespan
        sync: MongoClient[Doc] = MongoClient(url)
        aclient: AsyncMongoClient[Doc] = AsyncMongoClient(url)

        def factory(**options: Any) -> MongoStore:
            return open_store(sync, database=database, async_client=aclient, **options)

        yield factory
        await aclient.close()
        sync.close()
