"""Extractors: turn recorded conversations into candidate memories.

``offline`` (rules, no model, the default) and ``llm`` / ``llm-async`` (any
OpenAI-compatible model with structured output). They are components like the
embedders: registered through the ``memori`` entry points and chosen by name.
"""

from memori.extractors.llm import AsyncLLMExtractor, ExtractionError, LLMExtractor
from memori.extractors.offline import OfflineExtractor
from memori.extractors.resolve import resolve_extractor

__all__ = [
    "AsyncLLMExtractor",
    "ExtractionError",
    "LLMExtractor",
    "OfflineExtractor",
    "resolve_extractor",
]
