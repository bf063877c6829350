"""How a spoken sentence is phrased: openers to drop, a dropped "I", courtesy.

Chat English often opens with an interjection or the listener's name ("Yeah, Sam,
..."), drops its subject ("Just got back from a road trip.") or says nothing about the
speaker at all ("Let me know how it goes!"). The offline extractor reads each sentence
through these rules before it classifies it. English only.
"""

from __future__ import annotations

import re

_INTERJECTION = (r"(?i:oh|ah|aw+|well|so|yeah|yes|yep|yup|no|nope|hey|hi|hello|wow|whoa|"
                 r"ok|okay|haha|lol|btw|anyway|anyways|hmm+|omg|cool|great|awesome|sure|"
                 r"right|thanks|thank you|congrats|totally|actually|honestly|definitely|absolutely|"
                 r"exactly|true|nah)")
_OPENER = re.compile(
    rf"^\s*(?:{_INTERJECTION}(?:\s+{_INTERJECTION})*(?:,?\s+[A-Z][\w'-]*)?"
    r"(?:\s*[,:;]|\s+[-\u2013\u2014])\s*)+",
)
"""Interjections, each optionally with the listener's name, and the punctuation after."""

_DROPPED_I = re.compile(
    r"^(?i:(?:just|recently|finally|still|also|really|totally|definitely|always|never)\s+)?"
    r"(?i:been|got|gotta|went|had|made|took|saw|met|ran|bought|found|began|gave|won|lost|"
    r"love|hate|appreciate|adore|enjoy|prefer|miss|want|wanna|need|wish|can't wait|"
    r"(?P<verb>[a-z]{3,}(?:ing|ed)))\b",
)
"""A sentence that opens with a verb whose subject, left out, is the speaker."""

_NOT_VERBS = frozenset({
    "amazing", "interesting", "exciting", "inspiring", "fascinating", "touching", "stunning",
    "refreshing", "relaxing", "surprising", "encouraging", "heartwarming", "exhausting",
    "annoying", "outstanding", "charming", "during", "morning", "evening", "nothing",
    "something", "anything", "everything", "wedding", "building", "meeting", "feeling",
    "painting", "according", "interested", "talented", "excited", "blessed", "indeed",
    "hundred", "speed", "seed", "need", "bed", "red", "shed", "weed", "wed", "sacred",
    "naked", "wicked", "beloved", "united",
})
"""Words of the verb shapes that open sentences as adjectives or nouns."""

_GERUND_SUBJECT = re.compile(
    r"^\S+\s+(?:is|was|are|were|has|have|can|will|would|makes|made|sounds|seems|looks|"
    r"helps|brings|gives|keeps|takes|must|might|should|could)\b", re.I)
"""A gerund that is the sentence's subject ("Painting is fun"): not a dropped "I"."""

_ANCHOR = re.compile(
    r"\b(?i:my|me|myself|our|us|yesterday|today|tonight|last|ago|recently|lately|finally|"
    r"this (?:morning|week|weekend|month|year))\b")
"""What ties an ``-ing`` / ``-ed`` opening to the speaker: a first-person object or a
time ("Started a new job last week."), where "Pending turns resume." has neither."""

_LISTENER = re.compile(r"\b(?:you|your|yours|you're|you've|you'll|you'd|u|ur)\b", re.I)

_COURTESY = re.compile(
    r"^(?i:let me know|let's|(?:i'll|i will) (?:let you know|keep you posted)|"
    r"i (?:really |totally |completely |fully |100% |so |couldn't |could not )?agree|"
    r"(?:i )?(?:hope|bet) (?:you|your|it|that|they|this)|"
    r"i'm (?:so |really |very |super )?(?:glad|happy|proud|sorry|thrilled) "
    r"(?:you|for you|to hear|of you|that you|it)|"
    r"i'm (?:always |here |right )*(?:here|there) (?:for|to|if)|"
    r"i (?:can|could) (?:only )?imagine|i (?:know|see|understand|get) (?:what|how) you|"
    r"i(?:'d| would) love to (?:see|hear|read|know)|i can't wait to (?:see|hear|read)|"
    r"thanks|thank you|(?:i )?appreciate (?:you|it|that|your))\b",
)
"""Courtesy frames: about the listener or the exchange, not about the speaker."""


_BACK_REFERENCE = re.compile(
    r"^(?i:it|it's|its|that|that's|this|they|they're|these|those|he|he's|she|she's)\b")
"""A sentence that opens by pointing back at the one before it."""


def strip_opener(sentence: str) -> str:
    """``sentence`` without its leading interjections and the listener's name."""
    return _OPENER.sub("", sentence, count=1).strip()


def dropped_subject(sentence: str) -> bool:
    """Whether ``sentence`` leaves out an "I" ("Just finished my thesis.", "Started a new
    job."): it opens with such a verb and does not address the listener."""
    found = _DROPPED_I.match(sentence)
    if found is None or _LISTENER.search(sentence):
        return False
    verb = found.group("verb")
    if verb is None:
        return True
    if verb.lower() in _NOT_VERBS or _GERUND_SUBJECT.match(sentence) is not None:
        return False
    return found.group(0) != verb or _ANCHOR.search(sentence) is not None


def courtesy(sentence: str) -> bool:
    """Whether ``sentence`` is a courtesy to the listener rather than a fact about the
    speaker ("Let me know how it goes!", "I totally agree.")."""
    return _COURTESY.match(sentence) is not None


def continuation(sentence: str) -> str | None:
    """``sentence``, cleaned, when it only says more about the sentence before it ("It's
    so calming."); None otherwise (a question, a courtesy, or a new subject)."""
    text = strip_opener(sentence)
    if len(text.split()) < 3 or text.endswith("?") or courtesy(text) \
            or _BACK_REFERENCE.match(text) is None:
        return None
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!" else text + "."
