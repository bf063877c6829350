"""Turn the user's ``extractor=`` setting into an extractor object (or None: no extraction)."""

from __future__ import annotations

from typing import Any

from memori.core import ConfigurationError, Extractor, get_plugins


def resolve_extractor(value: Extractor | str | None, **options: Any) -> Extractor | None:
    """None/"none" -> no augmentation; a registered name ("offline") -> a new one; an object -> it.

    The LLM extractor needs a client and model, so pass an ``LLMExtractor(client, model)``.
    """
    if value is None or value == "none":
        return None
    if not isinstance(value, str):
        if callable(getattr(value, "extract", None)):
            return value
        raise ConfigurationError(f"extractor must be a name or have extract(); got {value!r}")
    spec = get_plugins().extractors.get(value)
    if spec is None:
        known = ", ".join(["none", *sorted(get_plugins().extractors)])
        raise ConfigurationError(f"unknown extractor {value!r}; registered names: {known}")
    extractor: Extractor = spec.load()(**options)
    return extractor
