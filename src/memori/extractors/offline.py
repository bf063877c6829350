"""The offline extractor: useful memories from user turns with no model at all.

It keeps the user's statements about themselves (sentences in the first
person, not questions), classifies them as goal, preference, event or fact,
and gives slot-style facts a ``slot`` (``"name"``, ``"lives_in"``,
``"favorite:color"``...) so that a newer value can supersede an older one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from memori.core import Memory, MemoryKind, Turn
from memori.extractors.when import memory_metadata

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|mine|me|we|our|we're)\b", re.I)
_REMEMBER = re.compile(r"^\s*(please\s+)?(remember|note|keep in mind)\s+(that\s+)?", re.I)
_QUESTION_START = re.compile(
    r"^\s*(what|who|when|where|why|how|which|do|does|did|can|could|would|should|is|are|"
    r"will|remind me|tell me)\b", re.I,
)
_GOAL = re.compile(
    r"\b(goal|want to|wanna|plan to|planning to|aim to|hope to|trying to|training for|"
    r"going to|intend to|by (january|february|march|april|may|june|july|august|september|"
    r"october|november|december|next|the end))\b", re.I,
)
_PREFERENCE = re.compile(
    r"\b(like|love|enjoy|prefer|hate|dislike|can't stand|favou?rite|allergic|vegetarian|"
    r"vegan|don't eat|do not eat|avoid)\b", re.I,
)
_EVENT = re.compile(
    r"\b(yesterday|last (week|month|year|night)|today|went|visited|attended|moved|started|"
    r"finished|got married|graduated|ago)\b", re.I,
)

_SLOTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bmy name is\b|\bi am called\b|\bcall me\b", re.I), "name"),
    (re.compile(r"\bi (?:live|am living|'m living) in\b|\bi moved to\b", re.I), "lives_in"),
    (re.compile(r"\bi (?:work|am working|'m working) (?:at|for)\b|\bmy job is\b", re.I),
     "works_at"),
    (re.compile(r"\bi am (\d+) years old\b|\bi'm (\d+)\b|\bmy age is\b", re.I), "age"),
    (re.compile(r"\bmy (?:birthday|date of birth) is\b", re.I), "birthday"),
)
_FAVORITE = re.compile(r"\bmy favou?rite (\w+(?: \w+)?) (?:is|are)\b", re.I)
_GOAL_OF = re.compile(r"\bmy (\w+) goal is\b|^\s*goal\s*:", re.I)

_STANDING = re.compile(r"^\s*(prefer|avoid|always|never|no more)\b", re.I)
"""A standing instruction about the user's own ways: "Prefer low-carb dinners on weekdays."."""

_LABEL = re.compile(r"^\s*(goal|preference|fact|note|reminder|plan|diet|allergy)\s*:", re.I)

MIN_WORDS = 3


@dataclass(frozen=True)
class Candidate:
    text: str
    kind: str
    slot: str | None


def classify(sentence: str) -> Candidate | None:
    """A memory candidate from one sentence of a user turn, or None."""
    text = _REMEMBER.sub("", sentence).strip()
    remembered = text != sentence.strip()
    if len(text.split()) < MIN_WORDS or text.endswith("?") or _QUESTION_START.match(text):
        return None
    labelled = _LABEL.match(text) is not None
    standing = _STANDING.match(text) is not None
    if not (remembered or labelled or standing or _FIRST_PERSON.search(text)):
        return None
    slot = next((name for pattern, name in _SLOTS if pattern.search(text)), None)
    fav = _FAVORITE.search(text)
    if fav:
        slot = "favorite:" + fav.group(1).lower()
    if _GOAL.search(text) or _GOAL_OF.search(text):
        goal = _GOAL_OF.search(text)
        kind = MemoryKind.GOAL.value
        if goal and goal.group(1):
            slot = slot or "goal:" + goal.group(1).lower()
    elif standing or _PREFERENCE.search(text):
        kind = MemoryKind.PREFERENCE.value
    elif _EVENT.search(text):
        kind = MemoryKind.EVENT.value
    else:
        kind = MemoryKind.FACT.value
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!":
        text += "."
    return Candidate(text, kind, slot)


class OfflineExtractor:
    """Rule-based extraction from user turns; deterministic, fast, no network."""

    name = "offline"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        out: list[Memory] = []
        for turn in turns:
            if turn.role != "user" or not turn.content.strip():
                continue
            for match in _SENTENCE.finditer(turn.content):
                cand = classify(match.group(0))
                if cand is None:
                    continue
                out.append(Memory(
                    entity_id=turn.entity_id, process_id=turn.process_id,
                    session_id=turn.session_id, content=cand.text, kind=cand.kind,
                    source_turn_ids=(turn.id,),
                    metadata=memory_metadata(cand.slot, cand.text, turn.created_at),
                ))
        return out

