"""Turn the user's ``embedder=`` setting into an embedder object (or None: text search only)."""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

from memori.core import ConfigurationError, Embedder, get_plugins
from memori.embedders.local import LocalEmbedder
from memori.embedders.model_files import MODEL_FILE, TOKENIZER_FILE, ModelFileError

logger = logging.getLogger(__name__)

NONE_NAMES = frozenset({"none", "off"})


def _is_embedder(obj: Any) -> bool:
    # Static lookups: a lazily computed ``dim`` property must not run (it may call a server).
    for attr in ("name", "dim", "embed"):
        try:
            inspect.getattr_static(obj, attr)
        except AttributeError:
            return False
    return callable(getattr(obj, "embed", None))


def resolve_embedder(value: str | Embedder | None, **options: Any) -> Embedder | None:
    """``None``/``"none"`` -> None; ``"default"`` -> :func:`default_embedder`;
    ``"name[:arg]"`` -> a registered embedder; an object -> itself.

    Names are looked up in the plugin registry (``local``, ``hash``, ``hash:128``,
    ``openai:<model>``, plus any third-party embedder); ``options`` go to its factory.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        if _is_embedder(value):
            return value
        raise ConfigurationError(
            f"embedder must be a name or an object with name, dim and embed(); "
            f"got {type(value).__name__}"
        )
    text = value.strip()
    if text.lower() in NONE_NAMES:
        return None
    if text.lower() == "default":
        return default_embedder()
    name, sep, arg = text.partition(":")
    registered = get_plugins().embedders
    spec = registered.get(name)
    if spec is None:
        known = ", ".join(["none", *sorted(registered)])
        raise ConfigurationError(f"unknown embedder {value!r}; registered names: {known}")
    factory = spec.load()
    merged = {**spec.options, **options}
    embedder = factory(arg, **merged) if sep else factory(**merged)
    if not _is_embedder(embedder):
        raise ConfigurationError(
            f"embedder {name!r} built a {type(embedder).__name__}, not an Embedder"
        )
    return embedder  # type: ignore[no-any-return]


def default_embedder() -> Embedder | None:
    """The local model if its runtime and files are installed; otherwise None (text search)."""
    try:
        importlib.import_module("onnxruntime")
        importlib.import_module("tokenizers")
        MODEL_FILE.locate()
        TOKENIZER_FILE.locate()
    except (ImportError, ModelFileError) as e:
        logger.warning("local embedder unavailable, using text search only: %s", e)
        return None
    return LocalEmbedder()
