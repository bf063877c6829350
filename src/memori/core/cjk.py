"""Chinese, Japanese and Korean text cut into character bigrams: the one rule every
backend's text search follows.

Those scripts write no spaces between words, so a Unicode ``\\w+`` run such as
"我对花生过敏" is a whole sentence and a search for "花生" would never match it.
As CJK full-text engines usually do without a dictionary, every run of CJK
characters (Han ideographs, hiragana, katakana, Hangul, bopomofo) inside a word is
cut into overlapping character pairs:

- stored text (the index side) holds each pair AND each single character
  ("我对花生" -> 我, 我对, 对, 对花, 花, 花生, 生), so a one-character query finds
  the character anywhere;
- a query holds the pairs only ("花生过敏" -> 花生, 生过, 过敏), or the character
  itself for a run of one ("花"), so a two-character word matches only texts
  holding that very pair.

Letters, digits and ``_`` of other scripts stay together: a word without CJK
characters is unchanged ("peanut花生" is "peanut" plus the CJK run). No dictionary
word segmentation happens: a pair that straddles two words ("对花") is indexed
too, which adds some noise to long queries, and a word of three or more characters
matches every text holding its pairs, even apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

CJK_CHARS = (
    "\u1100-\u11ff"  # Hangul jamo
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007"  # iteration mark, closing mark, ideographic zero
    "\u3021-\u3029\u3031-\u3035\u303b\u303c"  # Hangzhou numerals, kana repeat marks
    "\u3040-\u30ff"  # hiragana, katakana (with ー)
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff"  # bopomofo, Hangul compat.
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs (extension A, unified)
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"  # Hangul
    "\uf900-\ufaff"  # compatibility ideographs
    "\uff66-\uff9f\uffa0-\uffdc"  # half-width katakana and Hangul
    "\U0001b000-\U0001b16f"  # kana supplement and extensions
    "\U00020000-\U0003134f"  # ideograph extensions B to G
)
"""The character ranges cut into pairs (only ``\\w`` characters among them reach the cut)."""

_RUN = re.compile(f"[{CJK_CHARS}]+")
_ANY = re.compile(f"[{CJK_CHARS}]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds any character of :data:`CJK_CHARS`."""
    return not text.isascii() and _ANY.search(text) is not None


def _pieces(word: str) -> list[tuple[str, bool]]:
    """``word`` cut into its CJK runs and the pieces between them (flagged False)."""
    out: list[tuple[str, bool]] = []
    start = 0
    for m in _RUN.finditer(word):
        if m.start() > start:
            out.append((word[start:m.start()], False))
        out.append((m.group(0), True))
        start = m.end()
    if start < len(word):
        out.append((word[start:], False))
    return out


def index_run(run: str) -> list[str]:
    """The tokens a stored CJK run is indexed under: each character and each pair."""
    out = [run[0]]
    for i in range(1, len(run)):
        out.append(run[i - 1:i + 1])
        out.append(run[i])
    return out


def query_run(run: str) -> list[str]:
    """The tokens a CJK run of a query searches for: its pairs, or itself when single."""
    if len(run) == 1:
        return [run]
    return [run[i - 1:i + 1] for i in range(1, len(run))]


def index_tokens(words: Iterable[str]) -> list[str]:
    """Already-split words of stored text with every CJK run cut (see :func:`index_run`)."""
    return _cut(words, index_run)


def query_tokens(words: Iterable[str]) -> list[str]:
    """Already-split words of a query with every CJK run cut (see :func:`query_run`)."""
    return _cut(words, query_run)


def _cut(words: Iterable[str], cut: Callable[[str], list[str]]) -> list[str]:
    words = list(words)
    if not has_cjk("".join(words)):  # one scan of the whole text: most text has none
        return words
    out: list[str] = []
    for word in words:
        if not has_cjk(word):
            out.append(word)
            continue
        for piece, cjk in _pieces(word):
            out.extend(cut(piece) if cjk else (piece,))
    return out


def indexed_text(words: Iterable[str]) -> str:
    """Stored text rewritten as its index tokens separated by spaces: what a word-splitting
    index (SQLite's ``unicode61``) is given so that it holds the CJK characters and pairs."""
    return " ".join(index_tokens(words))
