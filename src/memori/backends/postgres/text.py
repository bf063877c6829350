"""Full-text search words for PostgreSQL, tokenised in Python rather than by the server.

The contract defines a word as a Unicode ``\\w+`` run, case-folded. PostgreSQL's
parser splits differently (``foo_bar``, e-mail addresses, ``3.14``) and folds case
by the server's locale (a ``C`` locale leaves ``Ü`` alone), so the store computes
the ``tsvector`` of each row and the ``tsquery`` of each search from the same
Python tokeniser: identical on every server, and any user string is words, never
syntax (each word is quoted as one lexeme).

Each row's ``tsvector`` also holds one entity lexeme (a hash of its entity id
containing ``:``, which no ``\\w+`` word can), and each search asks for
``entity & (word | word ...)``. The GIN index then intersects the entity's short
posting list with the words' lists (GIN skips through the long ones), so a text
search reads the entity's index entries, not every tenant's entries for a common
word. The exact ``entity_id = :e`` filter still decides; the hash only narrows.

Chinese, Japanese and Korean runs (``memori.core.cjk``): a row's ``tsvector`` holds
each of their characters and character pairs, a query their pairs (its lone
character for a run of one). Revision 0007 re-indexed the rows stored before.
"""

from __future__ import annotations

import hashlib

from memori.core.query_terms import bounded_terms
from memori.core.scores import query_words as core_query_words
from memori.core.scores import words as core_words

MAX_QUERY_WORDS = 64
"""Words of a query searched for: past this many, the content words of its end
(bounds the ``tsquery``; see ``memori.core.query_terms``)."""

MAX_LEXEME_BYTES = 2046
"""PostgreSQL refuses longer lexemes; such words are left out (as ``to_tsvector`` does)."""
MAX_POSITION = 16383
"""The largest word position a ``tsvector`` holds."""
MAX_POSITIONS = 256
"""Positions kept per lexeme (PostgreSQL keeps no more)."""
MAX_TSVECTOR_BYTES = 900_000
"""Stop adding lexemes before the 1 MB ``tsvector`` limit."""


def _fits(word: str) -> bool:
    return len(word) * 4 <= MAX_LEXEME_BYTES or len(word.encode("utf-8")) <= MAX_LEXEME_BYTES


def words(text: str) -> list[str]:
    """The case-folded words of stored ``text``: split first, then fold each word, then cut
    CJK runs into characters and pairs."""
    return [w for w in core_words(text) if _fits(w)]


def _query_split(text: str) -> list[str]:
    """The case-folded words of a query, CJK runs cut into pairs."""
    return [w for w in core_query_words(text) if _fits(w)]


def _quote(lexeme: str) -> str:
    """One quoted lexeme. A ``\\w+`` word never holds a quote or a backslash; escaped anyway."""
    if "'" in lexeme or "\\" in lexeme:
        lexeme = lexeme.replace("\\", "\\\\").replace("'", "''")
    return "'" + lexeme + "'"


def entity_lexeme(entity_id: str) -> str:
    """The lexeme standing for an entity in its rows' ``tsvector`` (never a word)."""
    return "memori:e:" + hashlib.sha256(entity_id.encode("utf-8")).hexdigest()[:32]


def tsvector_text(content: str, entity_id: str) -> str:
    """The ``tsvector`` input text of a row: the entity lexeme, each word with its positions."""
    positions: dict[str, list[int]] = {}
    for i, word in enumerate(words(content), start=1):
        kept = positions.setdefault(word, [])
        if len(kept) < MAX_POSITIONS:
            kept.append(i if i < MAX_POSITION else MAX_POSITION)
    parts: list[str] = []
    size = 0
    for word, pos in positions.items():
        part = f"{_quote(word)}:{','.join(map(str, pos))}"
        size += len(part) * 4 + 8
        if size > MAX_TSVECTOR_BYTES:
            break
        parts.append(part)
    parts.append(_quote(entity_lexeme(entity_id)))
    return " ".join(parts)


def query_words(query: str) -> list[str]:
    """The distinct words of ``query`` searched for; a long query keeps its last
    :data:`MAX_QUERY_WORDS` content words."""
    return bounded_terms(_query_split(query), MAX_QUERY_WORDS)


def tsquery_text(query: str) -> str | None:
    """A ``tsquery`` matching any word of ``query`` (None when it has no words)."""
    return words_tsquery(query_words(query))


def words_tsquery(unique: list[str]) -> str | None:
    """A ``tsquery`` matching any of the words (None when there are none)."""
    if not unique:
        return None
    return " | ".join(_quote(w) for w in unique)


def scoped_tsquery_text(words_query: str, entity_id: str) -> str:
    """``entity & (words)``: what the GIN index is asked for."""
    return f"{_quote(entity_lexeme(entity_id))} & ({words_query})"
