"""Shared fixtures: a SQLite file per test, Memori instances, the OpenAI-compatible server and
the Anthropic Messages stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from memori import Memori
from memori.testing.anthropic_server import AnthropicServer
from memori.testing.openai_server import OpenAIServer


@pytest.fixture(scope="session", autouse=True)
def _memori_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the suite's per-user files (the derived int8 model) out of the user's home."""
    if os.environ.get("MEMORI_HOME"):
        yield
        return
    os.environ["MEMORI_HOME"] = str(tmp_path_factory.mktemp("memori-home"))
    try:
        yield
    finally:
        del os.environ["MEMORI_HOME"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'memori.db'}"


@pytest.fixture
def mem(sqlite_url: str) -> Iterator[Memori]:
    """A Memori on a fresh SQLite file with the deterministic hash embedder."""
    m = Memori(sqlite_url, embedder="hash")
    yield m
    m.close()


@pytest.fixture(scope="session")
def _openai_server_session() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_session: OpenAIServer) -> OpenAIServer:
    """The session's OpenAI-compatible server on 127.0.0.1, with a clean record and script."""
    _openai_server_session.clear()
    return _openai_server_session


@pytest.fixture(scope="session")
def _anthropic_server_session() -> Iterator[AnthropicServer]:
    with AnthropicServer() as server:
        yield server


@pytest.fixture
def anthropic_server(_anthropic_server_session: AnthropicServer) -> AnthropicServer:
    """The session's Anthropic Messages stand-in on 127.0.0.1, with a clean record and script."""
    _anthropic_server_session.clear()
    return _anthropic_server_session


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL with pgvector: MEMORI_TEST_POSTGRES_URL, else one started for the session."""
    from memori.testing.postgres_server import URL_ENV, shared_server

    if not os.environ.get(URL_ENV):
        pytest.importorskip("pgserver", reason=f"pip install pgserver, or set {URL_ENV}")
    return shared_server().url
