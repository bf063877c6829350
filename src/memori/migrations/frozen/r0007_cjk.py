"""Revision 0007's CJK word rule (frozen): the text it writes into the search indexes.

A copy of ``memori.core.cjk`` as released with 0007: inside each Unicode ``\\w+`` run,
every run of Chinese, Japanese or Korean characters stands for each of its characters
and each pair of neighbouring characters. SQLite's FTS rows of such text hold those
tokens separated by spaces; PostgreSQL's ``search_tsv`` holds them as lexemes. If
the rule changes, rows are rewritten by a new revision, not by this one.
"""

from __future__ import annotations

import re

from memori.migrations.frozen.r0003_tsvector import (
    MAX_POSITION,
    MAX_POSITIONS,
    MAX_TSVECTOR_BYTES,
    _fits,
    _quote,
    entity_lexeme,
)

_WORD = re.compile(r"\w+")
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"
    "\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    "\uffa0-\uffdc\U0001b000-\U0001b16f\U00020000-\U0003134f"
)
_RUN = re.compile(f"[{_CJK}]+")
_ANY = re.compile(f"[{_CJK}]")


def has_cjk(text: str) -> bool:
    return _ANY.search(text) is not None


def _tokens(word: str) -> list[str]:
    """One ``\\w+`` word with each CJK run replaced by its characters and pairs."""
    if not has_cjk(word):
        return [word]
    out: list[str] = []
    start = 0
    for m in _RUN.finditer(word):
        if m.start() > start:
            out.append(word[start:m.start()])
        run = m.group(0)
        out.append(run[0])
        for i in range(1, len(run)):
            out.append(run[i - 1:i + 1])
            out.append(run[i])
        start = m.end()
    if start < len(word):
        out.append(word[start:])
    return out


def sqlite_fts_content(content: str) -> str:
    """The FTS5 ``content`` of a text holding CJK characters (``unicode61`` cuts it at the
    spaces and folds the case)."""
    return " ".join(t for w in _WORD.findall(content) for t in _tokens(w))


def words(text: str) -> list[str]:
    """The case-folded words of ``text`` with CJK runs cut, as PostgreSQL lexemes."""
    return [t for raw in _WORD.findall(text) for t in _tokens(raw.casefold()) if _fits(t)]


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
