"""memori.embedders: turn texts into unit vectors (local model, OpenAI-compatible, hashing).

Importing this package loads no model runtime; the local model loads on first use.
"""

from memori.embedders.hashing import HashEmbedder
from memori.embedders.local import LocalEmbedder
from memori.embedders.model_files import ModelFileError, ModelIntegrityError
from memori.embedders.openai_compat import OpenAIEmbedder
from memori.embedders.resolve import default_embedder, resolve_embedder

__all__ = [
    "HashEmbedder",
    "LocalEmbedder",
    "ModelFileError",
    "ModelIntegrityError",
    "OpenAIEmbedder",
    "default_embedder",
    "resolve_embedder",
]
