"""Registers the built-in embedders (imports no model runtime)."""

from __future__ import annotations

from typing import Any

from memori.core import ComponentSpec, hookimpl


@hookimpl
def memori_register_embedders(register: Any) -> None:
    register(ComponentSpec("hash", "memori.embedders.hashing:HashEmbedder",
                           description="Deterministic test embedder (no model)."))
