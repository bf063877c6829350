"""Choosing and opening the journal of a store: ``Memori(durability=...)``.

- ``"journal"`` (default): turns are journaled locally before ``create()`` returns,
  so they survive SIGKILL (see :mod:`memori.pipeline.journal`).
- ``"memory"``: turns wait in memory until the writer stores them (a few ms); a
  killed process loses the ones not stored yet. For stores that live in memory
  anyway this is what ``"journal"`` falls back to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memori.core import ConfigurationError, MemoryStore
from memori.pipeline.journal import Journal, journal_dir

log = logging.getLogger(__name__)

DURABILITY = ("journal", "memory")


def store_identity(
    conn: Any, store: MemoryStore, options: Mapping[str, Any] | None = None
) -> str | None:
    """What names the store across processes (its URL or connection target and the store
    options, such as a schema), or None for a store that lives in this process's memory."""
    base = _target(conn, store)
    if base is None:
        return None
    return base + (f"|{sorted((str(k), repr(v)) for k, v in options.items())}" if options else "")


def _target(conn: Any, store: MemoryStore) -> str | None:
    if conn is None:
        from memori.config import default_url

        conn = default_url()
    if isinstance(conn, str | Path):
        text = str(conn)
        if text.startswith("memory:") or text in ("sqlite://", "sqlite:///:memory:") or (
            ":memory:" in text
        ):
            return None
        return f"url:{text}"
    url = getattr(conn, "url", None)  # a SQLAlchemy engine
    render = getattr(url, "render_as_string", None)
    if callable(render):
        rendered = str(render(hide_password=False))
        return None if rendered in ("sqlite://", "sqlite:///:memory:") else f"url:{rendered}"
    options = getattr(conn, "init_options", None)  # a QdrantClient
    if isinstance(options, dict):
        if options.get("location") == ":memory:":
            return None
        keys = ("location", "url", "host", "port", "https", "prefix", "path")
        return "qdrant:" + repr(sorted((k, options.get(k)) for k in keys))
    if store.name == "memory":
        return None
    return f"{type(conn).__module__}.{type(conn).__name__}:{store!r}"


def open_journal(
    conn: Any, store: MemoryStore, durability: str, options: Mapping[str, Any] | None = None
) -> Journal | None:
    """This process's journal for the store, or None (``"memory"``, or a store in memory)."""
    if durability not in DURABILITY:
        raise ConfigurationError(
            f"durability must be one of {', '.join(DURABILITY)}; got {durability!r}")
    if durability == "memory":
        return None
    identity = store_identity(conn, store, options)
    if identity is None:
        return None
    from memori.config import default_data_dir

    try:
        return Journal(journal_dir(default_data_dir() / "journal", identity))
    except OSError as e:
        log.error("memori: cannot open the local journal (%s: %s); turns not yet stored "
                  "are lost if the process is killed", type(e).__name__, e)
        return None
