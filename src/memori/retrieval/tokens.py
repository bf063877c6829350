"""Offline token counting for context budgets (no tokenizer download).

An estimate close to BPE tokenizers of the GPT family: each word costs one
token per started four characters, each punctuation mark one, and each Chinese,
Japanese or Korean character one (those tokenizers spend at least one token on
most of them). It errs slightly high, so a budget is not exceeded in practice.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
"""Han, kana, Hangul and bopomofo: about a token each."""


_ASCII_PIECES = re.compile(r"\w{1,4}|[^\w\s]")
"""In ASCII text, a word's started four characters are its runs of one to four ``\\w``."""


def count_tokens(text: str) -> int:
    """Estimated number of model tokens in ``text``."""
    if text.isascii():  # the same count, without a Python step per word
        return len(_ASCII_PIECES.findall(text))
    total = 0
    for piece in _PIECES.findall(text):
        if not (piece[0].isalnum() or piece[0] == "_"):
            total += 1
            continue
        wide = 0 if piece.isascii() else len(_CJK.findall(piece))
        total += wide + (len(piece) - wide + 3) // 4
    return total
