"""Text-search query processing: keep the content words, add their common inflections.

Stored text is never changed; only the query sent to a backend's text search is.
Function words ("what", "did", "the") match most rows and drown the words that
matter, so they are dropped. Backends whose text index does not stem (SQLite's
``unicode61``) would miss "painted" for "painting": each content word therefore
brings its regular English inflections along (an OR query, so extra forms only
add matches). Stemming indexes (PostgreSQL, MongoDB) reduce the forms to one.

Chinese, Japanese and Korean runs become their character pairs (``memori.core.cjk``),
the words every backend's index holds for them; a lone CJK character is a content
word (it is a whole word in those scripts).
"""

from __future__ import annotations

import functools
import re

from memori.core.cjk import has_cjk, index_tokens, query_tokens
from memori.retrieval.stopwords import ENGLISH

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_VOWELS = frozenset("aeiou")
MAX_TERMS = 48
"""Terms kept in a processed query (backends bound their own query size too)."""


def words(text: str) -> list[str]:
    """Casefolded word tokens of a query (letters and digits; punctuation splits), CJK
    runs cut into character pairs."""
    return query_tokens(m.group(0).casefold() for m in _WORD.finditer(text))


def text_words(text: str) -> list[str]:
    """Casefolded word tokens of a stored text, CJK runs cut into characters and pairs
    (every query word of :func:`words` the text holds is among them).

    ASCII text takes a shortcut with the same result (its words are runs of letters
    and digits, casefolding is lowering, and it holds no CJK): the relevance floor
    and word coverage read the text of every candidate on every call.
    """
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return index_tokens(m.group(0).casefold() for m in _WORD.finditer(text))


def content_words(text: str, stopwords: frozenset[str] = ENGLISH) -> list[str]:
    """The distinct words of ``text`` that are not function words, in order.

    When every word is a function word, all words are kept: a query such as
    "the who" still means something.
    """
    tokens = list(dict.fromkeys(words(text)))
    kept = [w for w in tokens
            if w not in stopwords and (len(w) > 1 or w.isdigit() or has_cjk(w))]
    return kept or tokens


def _stems(word: str) -> set[str]:
    """Likely base forms of a regular English inflection of ``word`` (maybe none)."""
    out: set[str] = set()
    n = len(word)
    if n > 4 and word.endswith("ies"):
        out.add(word[:-3] + "y")
    elif n > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        out.add(word[:-2])
    elif n > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        out.add(word[:-1])
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if not word.endswith(suffix) or len(base) < 3:
            continue
        if suffix == "ed" and base.endswith("i"):
            out.add(base[:-1] + "y")
            continue
        out.update((base, base + "e"))
        if len(base) > 3 and base[-1] == base[-2] and base[-1] not in _VOWELS | {"l", "s"}:
            out.add(base[:-1])
    return {s for s in out if any(c in _VOWELS or c == "y" for c in s)}


def _forms(base: str) -> list[str]:
    """Regular inflections of a base form: plural / third person, past, gerund."""
    if base.endswith("e") and not base.endswith("ee"):
        stem = base[:-1]
        return [base + "s", base + "d", stem + "ing"]
    if base.endswith("y") and len(base) > 2 and base[-2] not in _VOWELS:
        return [base[:-1] + "ies", base[:-1] + "ied", base + "ing"]
    if base.endswith(("s", "x", "z", "ch", "sh")):
        return [base + "es", base + "ed", base + "ing"]
    return [base + "s", base + "ed", base + "ing"]


def inflections(word: str) -> tuple[str, ...]:
    """``word`` first, then its likely base forms and their regular inflections.

    Remembered for the last ``INFLECTED_WORDS`` words of up to ``REMEMBERED_CHARS``
    characters: each call inflects its query's words twice (the text search and the
    relevance floor), and a user's words recur from call to call.
    """
    if len(word) > REMEMBERED_CHARS:
        return _inflections(word)
    return _remembered(word)


def _inflections(word: str) -> tuple[str, ...]:
    if len(word) < 3 or not word.isalpha():
        return (word,)
    if len(word) == 3:  # "run", "eat": the third person / plural only ("runs", "eats")
        return (word, _forms(word)[0])
    bases = _stems(word) or {word}
    forms = [word]
    for base in sorted(bases):
        forms.append(base)
        forms.extend(_forms(base))
    return tuple(dict.fromkeys(forms))


INFLECTED_WORDS = 4096
"""Words whose inflections are remembered (about 1.6 MB when full)."""
REMEMBERED_CHARS = 32
_remembered = functools.lru_cache(maxsize=INFLECTED_WORDS)(_inflections)


def text_query(text: str, *, expand: bool = True,
               stopwords: frozenset[str] = ENGLISH) -> str:
    """The query to send to text search: content words, with inflections if ``expand``.

    A query with more than ``MAX_TERMS`` content words keeps its LAST ones (the question
    of a long message usually comes at its end); inflections only fill the room left.
    """
    kept = content_words(text, stopwords)
    if len(kept) > MAX_TERMS:  # each word at its last position, the last MAX_TERMS of them
        chosen = set(kept)
        latest = dict.fromkeys(w for w in reversed(words(text)) if w in chosen)
        kept = list(latest)[:MAX_TERMS][::-1]
    terms: list[str] = list(kept)
    if expand:  # the words themselves first, so a long query loses inflections, not words
        terms.extend(form for w in kept if w not in stopwords for form in inflections(w)[1:])
    return " ".join(list(dict.fromkeys(terms))[:MAX_TERMS])
