"""The conformance suite against the example third-party plugin (examples/plugin-jsonl).

The store is found the way users find it: by URL, through the ``memori`` entry
point the plugin's own package declares. ``./scripts/test`` installs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memori.config import open_backend
from memori.conformance import StoreConformance
from memori.core import MemoryStore, get_plugins


def test_the_plugin_is_discovered_through_its_entry_point() -> None:
    assert "jsonl" in get_plugins().backends, (
        "memori-jsonl is not installed: pip install -e examples/plugin-jsonl"
    )
    assert get_plugins().backend_for_url("jsonl:///x").loader == "memori_jsonl.store:open_store"


class TestJsonlPlugin(StoreConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("jsonl-conformance")

    @pytest.fixture
    def make_store(self, lifespan: Path) -> Callable[..., MemoryStore]:
        def factory(**options: Any) -> MemoryStore:
            return open_backend(f"jsonl://{lifespan}", **options)

        return factory
