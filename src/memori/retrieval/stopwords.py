"""English function words dropped from the text-search query (not from stored text).

The list is the usual one of search engines and NLTK (articles, pronouns,
auxiliaries, prepositions, conjunctions, question words), casefolded. Content
words such as names, nouns and main verbs are never in it. It lives once, in
core, where the backends' query building uses it too.
"""

from __future__ import annotations

from memori.core.query_terms import ENGLISH_STOP_WORDS

ENGLISH: frozenset[str] = ENGLISH_STOP_WORDS
