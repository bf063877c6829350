"""A text query reduced to its content words, keeping the end of a long question.

Text search sends a bounded number of words to the index. Cutting a long message
after its first words loses the question, which usually comes last; so when a
query holds more distinct words than fit, function words go first and then the
earliest content words. Stored text is never changed, only the query.

Negations ("no", "not", "nor") are stop words here: a text query is an OR of
words, which cannot express a negation, and "not" matches most sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from memori.core.cjk import query_tokens

_WORD = re.compile(r"\w+")

_STOP_WORDS = """
a about above after again against all am an and any are aren as at
be because been before being below between both but by
can cannot could couldn
d did didn do does doesn doing don down during
each either
few for from further
had hadn has hasn have haven having he her here hers herself him himself his how
i if in into is isn it its itself
just
ll
m ma me might mightn more most must mustn my myself
needn no nor not now
o of off on once only or other ought our ours ourselves out over own
re
s same shall shan she should shouldn so some such
t than that the their theirs them themselves then there these they this those through
to too
under until up upon us
ve very
was wasn we were weren what when where which while who whom whose why will with won
would wouldn
y you your yours yourself yourselves
"""

ENGLISH_STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS.split())
"""English function words (articles, pronouns, auxiliaries, prepositions, question words)."""

DEFAULT_MAX_TERMS = 64
"""Terms kept by default (each backend may bound its own query size lower)."""


def words(text: str) -> list[str]:
    """The case-folded Unicode ``\\w+`` words of ``text``, in order, duplicates kept."""
    return [w.casefold() for w in _WORD.findall(text)]


def last_distinct(tokens: Iterable[str]) -> list[str]:
    """The distinct tokens, each at the position of its LAST occurrence."""
    return list(dict.fromkeys(reversed(list(tokens))))[::-1]


def content_terms(
    tokens: Iterable[str], max_terms: int = DEFAULT_MAX_TERMS,
    stop_words: frozenset[str] = ENGLISH_STOP_WORDS,
) -> list[str]:
    """Already-tokenised words reduced to content words: stop words dropped, duplicates
    kept at their last position, then the LAST ``max_terms`` of them.

    A query made only of stop words ("who are you") keeps them, so it still searches.
    """
    if max_terms <= 0:
        return []
    distinct = last_distinct(tokens)
    kept = [t for t in distinct if t not in stop_words] or distinct
    return kept[-max_terms:]


def query_terms(
    text: str, max_terms: int = DEFAULT_MAX_TERMS,
    stop_words: frozenset[str] = ENGLISH_STOP_WORDS,
) -> list[str]:
    """The content words of a query (see :func:`content_terms`), from :func:`words` with
    CJK runs cut into pairs (``memori.core.cjk.query_tokens``)."""
    return content_terms(query_tokens(words(text or "")), max_terms, stop_words)


def bounded_terms(
    tokens: Iterable[str], max_terms: int = DEFAULT_MAX_TERMS,
    stop_words: frozenset[str] = ENGLISH_STOP_WORDS,
) -> list[str]:
    """A backend's query words: all distinct tokens (first-seen order) when they fit in
    ``max_terms``, otherwise :func:`content_terms`. Short queries search every word."""
    tokens = list(tokens)
    distinct = list(dict.fromkeys(tokens))
    if len(distinct) <= max_terms:
        return distinct
    return content_terms(tokens, max_terms, stop_words)
