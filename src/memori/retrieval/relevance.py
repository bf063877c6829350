"""Absolute relevance beside the fused rank: is a hit about the query at all?

Fused scores are rank-based: whatever the query, the best hit scores about the
same. To tell "the best of what is there" from "nothing is about this", each hit
also gets two absolute signals:

- ``overlap``: the share of the query's content words (function words dropped,
  as for the text query, and words of asking such as "remind" or "tell") that
  the hit's text contains, a word counting when any of its regular inflections
  is there ("painting" matches "painted") or, for a word of 7 letters or more,
  a word sharing its head ("allergies" matches "allergic"). A query
  with more than ``OVERLAP_TERMS`` content words needs ``OVERLAP_TERMS`` of them
  for a full share, so a long message is not out of reach. The character pairs of
  Chinese, Japanese and Korean text (``memori.core.cjk``) are its words here too,
  but most pairs of a sentence straddle two words and no function word is known
  among them, so they count for at most ``CJK_PAIRS_NEEDED`` of the words needed:
  "这个蛋糕有花生吗" (7 pairs) is fully matched by a hit holding two of its pairs.
  With a time named in the query (``memori.retrieval.when``), a candidate said
  within it holds the query's words of time, once it holds a word of the rest.
- ``cosine``: the dense cosine of the query and the hit, read from the vector
  rankings (their score is ``(1 + cosine) / 2``); absent when the hit was not in
  a vector ranking (or the store fused text and vectors itself).

``relevance`` is the larger of the overlap and the cosine rescaled so that
``COSINE_ZERO`` maps to 0 and ``COSINE_ONE`` to 1 (clamped into [0, 1]). A turn
the conversation context brought in (the reply next to a matching question)
also has the relevance of the best seed that lent to it. The retriever drops
hits below its ``min_relevance``. The constants were set on the LoCoMo
development split with the local all-MiniLM-L6-v2 embedder (docs/retrieval.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from memori.core import Memory, Turn
from memori.core.cjk import has_cjk
from memori.core.text_memo import memo_short_texts
from memori.retrieval.candidates import Candidate, Key, key_of
from memori.retrieval.plan import VECTOR_SIGNALS
from memori.retrieval.query import MAX_TERMS, content_words, inflections, text_words
from memori.retrieval.when import Window, is_time_word, said_within

MIN_RELEVANCE = 0.5
"""The default floor of ``HybridRetriever.min_relevance``."""
COSINE_ZERO = 0.3
"""A cosine at or below this is no evidence of relevance."""
COSINE_ONE = 0.6
"""A cosine at or above this is full evidence."""
OVERLAP_TERMS = 4
"""Content words a hit needs for a full overlap when the query has more."""
CJK_PAIRS_NEEDED = 2
"""Of the words needed for a full overlap, how many a query's CJK pairs stand for."""
TEXT_WINDOW = 20_000
"""Of a very long item, its first and last this many characters are read."""

OVERLAP = "overlap"
COSINE = "cosine"
RELEVANCE = "relevance"
ABSOLUTE_SIGNALS = (OVERLAP, COSINE, RELEVANCE)
"""The signal names this module adds to ``Hit.signals``."""


ASKING_WORDS = frozenset({
    "remind", "tell", "recall", "remember", "know", "please", "mention", "mentioned",
    "say", "said", "again",
})
"""Words of asking ("remind me of my goal") left out of the overlap: they are about the
request, not about what is remembered."""
PREFIX_LENGTHS = (6, 7, 8)


def prefix_of(term: str) -> str | None:
    """The head a stored word must share with a long query word to match it beyond its
    regular inflections ("allergies" and "allergic"): all but its last 3 letters, at
    least 6 and at most 8; None for words under 7 letters."""
    if len(term) < 7 or not term.isalpha():
        return None
    return term[: min(PREFIX_LENGTHS[-1], max(PREFIX_LENGTHS[0], len(term) - 3))]


def cosine_evidence(cosine: float) -> float:
    """``cosine`` rescaled from [``COSINE_ZERO``, ``COSINE_ONE``] to [0, 1], clamped."""
    return min(1.0, max(0.0, (cosine - COSINE_ZERO) / (COSINE_ONE - COSINE_ZERO)))


def cosine_of(signals: Mapping[str, float]) -> float | None:
    """The query-hit cosine, from the vector rankings' scores; None when neither has it."""
    scores = [signals[name] for name in VECTOR_SIGNALS if name in signals]
    return 2.0 * max(scores) - 1.0 if scores else None


class Relevance:
    """Judges the candidates of one query; results are kept in their ``signals``."""

    def __init__(self, query: str, window: Window | None = None) -> None:
        terms = [t for t in content_words(query) if t not in ASKING_WORDS] \
            or content_words(query)
        if len(terms) > MAX_TERMS:  # as the text query: a long message's last words
            terms = terms[-MAX_TERMS:]
        self.forms = [frozenset(inflections(t)) for t in terms]
        self.prefixes = [prefix_of(t) for t in terms]
        pairs = sum(1 for t in terms if has_cjk(t))
        self.needed = min(len(terms) - pairs + min(pairs, CJK_PAIRS_NEEDED), OVERLAP_TERMS)
        self.window = window
        self.timely = [window is not None and is_time_word(t) for t in terms]
        self._known: dict[Key, float] = {}
        # the same rules as sets of bits, bit i for term i: each form names the terms
        # it matches, so a text is judged by the forms among its words
        self._bits: dict[str, int] = {}
        for i, forms in enumerate(self.forms):
            for form in forms:
                self._bits[form] = self._bits.get(form, 0) | 1 << i
        self._all_forms = frozenset(self._bits)
        self._prefixed = [(1 << i, prefix, prefix[:HEAD])
                          for i, prefix in enumerate(self.prefixes) if prefix is not None]
        self._heads = frozenset(head for _, _, head in self._prefixed)
        self._timely_bits = sum(1 << i for i, timely in enumerate(self.timely) if timely)

    def overlap(self, text: str, *, said_then: bool = False) -> float:
        """Share of the query's content words found in ``text`` (0 for an empty query);
        ``said_then``: the text was said within the time the query names, whose words
        of time it then holds, once it holds one of the others."""
        if not self.needed:
            return 0.0
        words = _words_of(text)
        present = words.present
        hits = 0
        bits = self._bits
        for word in self._all_forms.intersection(present):  # in C, over the smaller set
            hits |= bits[word]
        if not self._heads.isdisjoint(words.heads):
            for bit, prefix, head in self._prefixed:
                # a stored word that starts so (6 to 8 letters)
                if not hits & bit and head in words.heads \
                        and any(w.startswith(prefix) for w in present):
                    hits |= bit
        found = hits.bit_count()
        if said_then and hits & ~self._timely_bits:  # holds a word of the subject
            found += (self._timely_bits & ~hits).bit_count()
        return min(1.0, found / self.needed)

    def overlap_of(self, cand: Candidate) -> float:
        """The candidate's ``overlap`` (cached in its signals)."""
        signals = cand.signals
        if OVERLAP not in signals:
            known = self._known.get(key_of(cand.item)) if self._known else None
            signals[OVERLAP] = self._item_overlap(cand.item) if known is None else known
        return signals[OVERLAP]

    def prepare(self, items: Iterable[Memory | Turn]) -> None:
        """Work out the overlap of ``items`` ahead, for candidates made of them later
        (the retriever does it while the query's vector is being computed)."""
        known = self._known
        for item in items:
            key = key_of(item)
            if key not in known:
                known[key] = self._item_overlap(item)

    def _item_overlap(self, item: Memory | Turn) -> float:
        then = self.window is not None and said_within(item, self.window)
        return round(self.overlap(item.content, said_then=then), 4)

    def own(self, cand: Candidate) -> float:
        """The candidate's relevance from its own text and cosine (cached in signals)."""
        signals = cand.signals
        overlap = self.overlap_of(cand)
        cosine = cosine_of(signals)
        if cosine is None:
            return overlap
        signals[COSINE] = round(cosine, 4)
        return max(overlap, cosine_evidence(cosine))

    def __call__(self, cand: Candidate) -> float:
        """The candidate's relevance: its own, or what a context seed lent it."""
        value = max(self.own(cand), cand.lent)
        cand.signals[RELEVANCE] = round(value, 4)
        return value


class _Words:
    """A stored text's distinct words, and the first ``HEAD`` letters of its longer
    ones (a head match needs one of those: most query words are ruled out there)."""

    __slots__ = ("heads", "present")

    def __init__(self, text: str) -> None:
        if len(text) > 2 * TEXT_WINDOW:
            text = text[:TEXT_WINDOW] + " " + text[-TEXT_WINDOW:]
        self.present = frozenset(text_words(text))
        self.heads = frozenset(w[:HEAD] for w in self.present if len(w) >= HEAD)


HEAD = PREFIX_LENGTHS[0]


_words_of = memo_short_texts(2048, 500)(_Words)
"""A text's words, remembered for texts of up to 500 characters (the same memories and
turns come back call after call, and every candidate's words are read on every call):
at most 2,048 of them, a few kilobytes each."""
