"""Self-test: the conformance suite against the in-memory reference store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memori.conformance import StoreConformance
from memori.conformance.reference import InMemoryDatabase, InMemoryStore


class TestReferenceStore(StoreConformance):
    """Every handle of a test shares one database, as connections share a file."""

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> InMemoryDatabase:
        return InMemoryDatabase()

    @pytest.fixture
    def make_store(self, lifespan: InMemoryDatabase) -> Callable[..., InMemoryStore]:
        def factory(**options: Any) -> InMemoryStore:
            return InMemoryStore(lifespan, **options)

        return factory
