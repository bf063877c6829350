"""Where the embedded default lives and how a store is opened from what the user passed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from memori.core import MemoryStore, get_plugins

ENV_URL = "MEMORI_URL"


def default_data_dir() -> Path:
    """The per-user data directory (``MEMORI_HOME`` overrides it).

    Linux: ``~/.local/share/memori``; macOS: ``~/Library/Application Support/memori``;
    Windows: ``%LOCALAPPDATA%\\memori``.
    """
    override = os.environ.get("MEMORI_HOME")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("memori", appauthor=False))


def default_cache_dir() -> Path:
    """The per-user cache directory: ``$MEMORI_HOME/cache`` if set, else the platform's.

    Linux: ``~/.cache/memori``; macOS: ``~/Library/Caches/memori``; Windows:
    ``%LOCALAPPDATA%\\memori\\Cache``. Only derived files live there (safe to delete).
    """
    override = os.environ.get("MEMORI_HOME")
    if override:
        return Path(override) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("memori", appauthor=False))


def default_url() -> str:
    """``MEMORI_URL`` if set, else a SQLite file in the per-user data directory."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    directory = default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'memori.db'}"


def open_backend(target: Any, **options: Any) -> MemoryStore:
    """Open a store for a URL or a connection object through the plugin registry."""
    plugins = get_plugins()
    if target is None:
        target = default_url()
    spec = plugins.backend_for_url(target) if isinstance(target, str) else (
        plugins.backend_for_object(target)
    )
    store: MemoryStore = spec.load()(target, **options)
    return store
