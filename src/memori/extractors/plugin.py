"""Registers the built-in extractors."""

from __future__ import annotations

from typing import Any

from memori.core import ComponentSpec, hookimpl


@hookimpl
def memori_register_extractors(register: Any) -> None:
    register(ComponentSpec("offline", "memori.extractors.offline:OfflineExtractor",
                           description="Rule-based extraction from user turns; no model."))
    register(ComponentSpec("llm", "memori.extractors.llm:LLMExtractor",
                           extra="openai",
                           description="Extraction through an OpenAI-compatible model."))
    register(ComponentSpec("llm-async", "memori.extractors.llm:AsyncLLMExtractor",
                           extra="openai",
                           description="Extraction through an async OpenAI-compatible client, "
                                       "awaited on the app's event loop."))
