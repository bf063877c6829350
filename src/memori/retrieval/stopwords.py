"""English function words dropped from the text-search query (not from stored text).

The list is the usual one of search engines and NLTK (articles, pronouns,
auxiliaries, prepositions, conjunctions, question words), casefolded. Content
words such as names, nouns and main verbs are never in it.
"""

from __future__ import annotations

_WORDS = """
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

ENGLISH: frozenset[str] = frozenset(_WORDS.split())
