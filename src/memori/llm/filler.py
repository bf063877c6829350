"""Recalled turns that say nothing about the user, and so are not shown as memories.

The user's own earlier questions (a user turn ending with "?" in which no clause
states something in the first person) and acknowledgements ("Noted.", "OK", "Got
it", "Sure, will do!"). They stay in the store, in ``recall()`` and in the session
history; only the context block leaves them out.
"""

from __future__ import annotations

import re

from memori.core import Memory, Turn
from memori.core.text_memo import memo_short_texts

_ACK_TOKEN = re.compile(r"[\w'\u2019]+")
_ACK_WORDS = frozenset({
    "ok", "okay", "k", "kk", "noted", "got", "it", "sure", "thanks", "thank", "you", "ty",
    "understood", "will", "do", "alright", "all", "right", "great", "good", "cool",
    "perfect", "fine", "sounds", "of", "course", "welcome", "you're", "youre", "np", "no",
    "problem", "done", "gotcha", "roger", "makes", "sense",
})
_ACK_CORE = _ACK_WORDS - {"it", "you", "all", "of", "no", "will", "do", "makes", "sounds"}
ACK_MAX_WORDS = 5
"""An acknowledgement is at most this many words, all from a small set ("Got it, thanks!")."""
_CLAUSE = re.compile(r"[.!?;,:\n]+|\s[-\u2013\u2014]\s")
_FIRST_PERSON = frozenset({
    "i", "i'm", "im", "i've", "ive", "i'd", "i'll", "we", "we're", "we've", "we'd", "we'll",
})
_POSSESSIVE = frozenset({"my", "our"})
"""First person when they open a clause ("My sister is Anna, ..."), not inside a question
("What was the name of my village?")."""
_ASKING = frozenset({
    "am", "is", "are", "was", "were", "do", "does", "did", "have", "has", "had", "can",
    "could", "should", "would", "will", "shall", "may", "might", "must", "what", "where",
    "when", "who", "whom", "whose", "which", "why", "how", "if", "whether",
})
_TRAILING = "\"')]}*_ \t\n"


def is_acknowledgement(text: str) -> bool:
    """Whether ``text`` is only an acknowledgement ("Noted.", "OK", "Got it", "Sure")."""
    found = [w.replace("\u2019", "'") for w in _ACK_TOKEN.findall(text.lower())]
    return 0 < len(found) <= ACK_MAX_WORDS and all(w in _ACK_WORDS for w in found) \
        and any(w in _ACK_CORE for w in found)


def is_question_only(text: str) -> bool:
    """Whether ``text`` ends with "?" and none of its clauses states something in the
    first person ("What is my sister's name?" does; "I moved to Oslo, any good cafes?"
    does not): asked of the user's own turns, such a turn holds nothing to remember."""
    if not text.rstrip(_TRAILING).endswith("?"):
        return False
    for clause in _CLAUSE.split(text.lower().replace("\u2019", "'")):
        tokens = _ACK_TOKEN.findall(clause)
        if tokens and tokens[0] in _POSSESSIVE:
            return False
        for i, token in enumerate(tokens):
            if token in _FIRST_PERSON and (i == 0 or tokens[i - 1] not in _ASKING):
                return False
    return True


def says_nothing(item: Memory | Turn) -> bool:
    """A recalled turn not to present as a memory: the user's own question, or an
    acknowledgement."""
    if not isinstance(item, Turn):
        return False
    text = item.content
    return _acknowledgement(text) or (item.role == "user" and _question_only(text))


# short turns are judged once: the same turns are recalled call after call
_acknowledgement = memo_short_texts(8192)(is_acknowledgement)
_question_only = memo_short_texts(8192)(is_question_only)
