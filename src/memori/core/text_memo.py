"""Remembering what a function of a text gives, for short texts.

The LLM path works the same texts over on every call (the session's history, the
memories recalled again and again): their words, their cleaned lines, their token
counts. ``memo_short_texts`` keeps the result for texts of up to ``max_chars``
characters in a bounded LRU; longer texts are worked out each time, so the memory
it holds stays small. Standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MAX_CHARS = 2000
"""Texts longer than this are not remembered (by default)."""


def memo_short_texts(
    maxsize: int, max_chars: int = MAX_CHARS,
) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Decorate ``fn(text)``: results for texts of at most ``max_chars`` characters are
    kept (at most ``maxsize`` of them, least recently used first out)."""

    def decorate(fn: Callable[[str], T]) -> Callable[[str], T]:
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def memo(text: str) -> T:
            return cached(text) if len(text) <= max_chars else fn(text)

        return memo

    return decorate
