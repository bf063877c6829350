"""Turn the user's ``extractor=`` setting into an extractor object (or None: no extraction)."""

from __future__ import annotations

from typing import Any

from memori.core import AsyncExtractor, ConfigurationError, Extractor, get_plugins


def resolve_extractor(
    value: Extractor | AsyncExtractor | str | None, **options: Any
) -> Extractor | AsyncExtractor | None:
    """None/"none" -> no augmentation; a registered name ("offline") -> a new one; an object -> it.

    The LLM extractors need a client and model, so pass an ``LLMExtractor(client, model)``
    (sync client) or an ``AsyncLLMExtractor(aclient, model)`` (async client).
    """
    if value is None or value == "none":
        return None
    if not isinstance(value, str):
        if callable(getattr(value, "extract", None)) or callable(getattr(value, "aextract", None)):
            return value
        raise ConfigurationError(
            f"extractor must be a name or have extract() or aextract(); got {value!r}"
        )
    spec = get_plugins().extractors.get(value)
    if spec is None:
        known = ", ".join(["none", *sorted(get_plugins().extractors)])
        raise ConfigurationError(f"unknown extractor {value!r}; registered names: {known}")
    extractor: Extractor = spec.load()(**options)
    return extractor
