"""The memori conformance suite, shipped so any backend can prove it keeps scopes apart.

A backend's test module::

    import pytest
    from memori.conformance import StoreConformance

    class TestMyBackend(StoreConformance):
        @pytest.fixture
        def make_store(self):
            def factory(**options):
                return my_open_store(..., **options)  # not yet set up
            return factory

Importing ``memori.conformance.reference`` (the in-memory reference store)
needs neither pytest nor hypothesis; ``StoreConformance`` needs both, and
pytest-asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memori.conformance.reference import InMemoryDatabase, InMemoryStore
    from memori.conformance.suite import StoreConformance

__all__ = ["InMemoryDatabase", "InMemoryStore", "StoreConformance"]


def __getattr__(name: str) -> Any:
    if name == "StoreConformance":
        from memori.conformance.suite import StoreConformance

        return StoreConformance
    if name in ("InMemoryDatabase", "InMemoryStore"):
        from memori.conformance import reference

        return getattr(reference, name)
    raise AttributeError(f"module 'memori.conformance' has no attribute {name!r}")
