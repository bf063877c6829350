"""FTS5 query building and text search over the FTS tables of revision 0002.

A user's text never reaches FTS5 syntax: it is cut into word tokens, each
quoted as a phrase, OR-ed, and confined to the ``content`` column; the entity
filter is a separate quoted token the query builder makes from the id's hex.

Chinese, Japanese and Korean text (``memori.core.cjk``): the triggers of revision
0002 copy a row's text into its FTS row as it is, where ``unicode61`` would keep a
whole unspaced sentence as one token. So whenever the store writes a text holding
CJK characters, it then replaces the FTS row's ``content`` with the text's index
tokens separated by spaces (:func:`segment_rows`; revision 0007 did it once for the
rows already stored). The base table keeps the text unchanged, and nothing but
plain SQL runs in the triggers: a row another program writes is searchable by its
other words, its CJK runs only whole, until the store writes it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from memori.core import cjk
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
    text the same way and folds the case of the quoted words itself. CJK runs are
    cut into character pairs (``memori.core.cjk.query_tokens``), as the FTS rows of
    CJK text hold them (:func:`indexed_content`).
    """
    tokens = cjk.query_tokens(w.lower() for w in _WORD.findall(text or ""))
    return bounded_terms(tokens, MAX_QUERY_TOKENS)


def indexed_content(content: str) -> str | None:
    """What the FTS row of ``content`` holds when it differs from the text: its words
    with each CJK run cut into characters and pairs; None for a text without CJK."""
    if not cjk.has_cjk(content):
        return None
    return cjk.indexed_text(_WORD.findall(content))


def segment_rows(conn: Connection, base_table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Give the FTS rows of just-written base rows (``entity_id``, ``id`` and ``content``)
    holding CJK text their index tokens (the triggers copied the text as it is)."""
    params = []
    for row in rows:
        content = row.get("content")
        indexed = indexed_content(content) if isinstance(content, str) else None
        if indexed is not None:
            params.append({"e": row["entity_id"], "i": row["id"], "c": indexed})
    if params:
        fts = fts_table(base_table)
        conn.execute(sql_text(
            f"UPDATE {fts} SET content = :c WHERE rowid = "
            f"(SELECT rowid FROM {base_table} WHERE entity_id = :e AND id = :i)"
        ), params)


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
