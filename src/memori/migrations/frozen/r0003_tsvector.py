"""Revision 0003's tokeniser (frozen): the ``tsvector`` text its back-fill writes.

A copy of ``memori.backends.postgres.text`` as released with 0003: a word is a
Unicode ``\\w+`` run, case-folded; each row also holds one entity lexeme. If the
store's tokeniser changes, rows are rewritten by a new revision, not by this one.
"""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"\w+")

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
    """The case-folded words of ``text``: split first, then fold each word."""
    return [w for w in (raw.casefold() for raw in _WORD.findall(text)) if _fits(w)]


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
