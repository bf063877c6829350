"""FTS5 query building and text search over the FTS tables of revision 0002.

A user's text never reaches FTS5 syntax: it is cut into word tokens, each
quoted as a phrase, OR-ed, and confined to the ``content`` column; the entity
filter is a separate quoted token the query builder makes from the id's hex.
"""

from __future__ import annotations

import re

from memori.core.query_terms import bounded_terms

MAX_QUERY_TOKENS = 64
"""Words kept from a query (bounds the cost of one search): past this many, the
content words of its end (see ``memori.core.query_terms``)."""

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_table(base_table: str) -> str:
    return f"{base_table}_fts"


def query_tokens(text: str) -> list[str]:
    """Distinct lower-cased ``\\w+`` words of ``text``, at most MAX_QUERY_TOKENS (a
    longer query keeps the content words of its end).

    The FTS5 tokenizer (unicode61 with ``_`` as a token character) cuts indexed
    text the same way and folds the case of the quoted words itself.
    """
    return bounded_terms((w.lower() for w in _WORD.findall(text or "")), MAX_QUERY_TOKENS)


def entity_key(entity_id: str) -> str:
    """The token the FTS rows of an entity carry: ``'e' || hex(entity_id)`` as SQLite makes it."""
    return "e" + entity_id.encode("utf-8").hex().upper()


def quote(token: str) -> str:
    """An FTS5 string literal (a phrase) holding ``token`` verbatim."""
    return '"' + token.replace('"', '""') + '"'


def match_expression(entity_id: str, text: str) -> str | None:
    """The MATCH expression for a scoped text search, or None when the text has no words."""
    words = query_tokens(text)
    if not words:
        return None
    anyword = " OR ".join(quote(w) for w in words)
    return f"entity_key : {quote(entity_key(entity_id))} AND content : ({anyword})"


def entity_expression(entity_id: str) -> str:
    """The MATCH expression for every FTS row of an entity (``raw_count``)."""
    return f"entity_key : {quote(entity_key(entity_id))}"
