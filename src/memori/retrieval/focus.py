"""What the searches read of a long query: its first and its last words.

A user's message is often more than its question: a story leads up to it ("Yesterday
my sister called about the trip, ... What was she allergic to?") or follows it. Read
whole, the message's other words blur what it asks: its vector is an average of
everything it says, and its words match whatever else it mentions; the local model's
time also grows with every token (on the critical path of an LLM call). So the text
searches of a query longer than ``HEAD + TAIL`` words read its first ``HEAD`` and its
last ``TAIL`` words, joined, where a question most often stands, and so does its vector
(``VECTOR_HEAD`` and ``VECTOR_TAIL``, kept apart for ``HybridRetriever.vector_words``).
The time window and the relevance floor still read the whole query; a query of at most
20 words is read whole. Every two Chinese, Japanese or Korean characters count as a
word (those scripts write no spaces between words of one or two characters, mostly; the
model reads about a token for each character), so a question of up to 20 such
characters at the end of a message is kept whole.

Measured with ``benchmarks/bench_locomo_long.py`` (each LoCoMo dev question inside
35 or 100 words of another conversation's turns, the LLM path's first 10 hits; recall@10
with the question last / first): the whole message 48.8 / 59.7 and 38.9 / 31.7; the
text searches reading 12 + 20 words and the vector 10 + 12 (the previous default)
59.1 / 62.0 and 59.2 / 62.2; both reading 10 + 10 (chosen on this benchmark: nine
pairs of 18-32 words for the text searches with the vector at 10 + 12, then the vector
at 10 + 12, 8 + 12 and 10 + 10) 65.2 / 66.1 and 65.6 / 65.5. Questions asked alone
are unchanged. The 48-word message of ``bench_interception.py`` is embedded and
text-searched from 20 words (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import re

from memori.core.cjk import CJK_CHARS

HEAD = 10
"""Words kept from the start of a longer query (a question that opens the message)."""
TAIL = 10
"""Words kept from its end (where a question most often stands)."""
VECTOR_HEAD = HEAD
"""Words of a longer query's start that its vector reads (``HybridRetriever.vector_words``):
the text searches' window (chosen together on ``bench_locomo_long.py``)."""
VECTOR_TAIL = TAIL
"""Words of its end that its vector reads."""
_WORD = re.compile(f"(?P<cjk>[{CJK_CHARS}])|[^\\s{CJK_CHARS}]+")
"""A CJK character (half a word), or a run of other characters between spaces."""
_WINDOW = 256
"""Characters first read from the end for the last words (grown until they hold them)."""
REMEMBERED_CHARS = 4096
"""Queries up to this long are remembered (the last 64): a retrieval focuses one twice."""


def _size(word: re.Match[str]) -> float:
    return 0.5 if word.lastgroup == "cjk" else 1.0


def focus(query: str, head: int = HEAD, tail: int = TAIL) -> str:
    """``query`` itself when it holds at most ``head + tail`` words, else its first
    ``head`` and last ``tail`` words (two CJK characters make a word) joined by a space.

    Reads the query's start and end only, whatever its length. The last few queries of
    up to ``REMEMBERED_CHARS`` characters are remembered: a retrieval reads a query's
    focus twice (its text searches and its vector).
    """
    if len(query) <= REMEMBERED_CHARS:
        return _remembered(query, head, tail)
    return _focus(query, head, tail)


def _focus(query: str, head: int, tail: int) -> str:
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (head, tail)) \
            or head < 0 or tail < 0 or head + tail == 0:
        raise ValueError("head and tail must be whole numbers of words, not negative nor "
                         f"both 0; got {head!r}, {tail!r}")
    head_end, words = 0, 0.0
    for word in _WORD.finditer(query):
        words += _size(word)
        if words <= head:
            head_end = word.end()
        elif words > head + tail:
            break
    else:
        return query
    if not tail:
        return query[:head_end]
    size = _WINDOW
    while True:  # the first word of a window may be cut: it counts only at the head's end
        start = max(head_end, len(query) - size)
        found = list(_WORD.finditer(query, start))
        kept = found if start == head_end else found[1:]
        words, tail_start = 0.0, None
        for word in reversed(kept):
            words += _size(word)
            if words > tail:
                break
            tail_start = word.start()
        if words > tail or start == head_end:
            break
        size *= 4
    assert tail_start is not None  # the query holds more than head + tail words
    return f"{query[:head_end]} {query[tail_start:]}" if head else query[tail_start:]


_remembered = functools.lru_cache(maxsize=64)(_focus)
