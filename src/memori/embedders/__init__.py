"""memori.embedders: turn texts into unit vectors (local model, OpenAI-compatible, hashing).

Importing this package loads nothing heavy (no numpy, no model runtime): each name
below is imported on first access, and the local model loads on first use. Plugin
discovery imports this package (its ``plugin`` module) and so stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memori.embedders.hashing import HashEmbedder
    from memori.embedders.local import LocalEmbedder
    from memori.embedders.model_files import ModelFileError, ModelIntegrityError
    from memori.embedders.openai_compat import OpenAIEmbedder
    from memori.embedders.resolve import default_embedder, resolve_embedder

_WHERE = {
    "HashEmbedder": "hashing",
    "LocalEmbedder": "local",
    "ModelFileError": "model_files",
    "ModelIntegrityError": "model_files",
    "OpenAIEmbedder": "openai_compat",
    "default_embedder": "resolve",
    "resolve_embedder": "resolve",
}

__all__ = [
    "HashEmbedder",
    "LocalEmbedder",
    "ModelFileError",
    "ModelIntegrityError",
    "OpenAIEmbedder",
    "default_embedder",
    "resolve_embedder",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'memori.embedders' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"memori.embedders.{module}"), name)
    globals()[name] = value
    return value
