"""The offline extractor: useful memories from user turns with no model at all.

It keeps the user's statements about themselves (sentences in the first
person, or with the "I" left out, not questions and not courtesies to the
listener: :mod:`memori.extractors.phrasing`), classifies them as goal (plans
included), preference (negative ones included), event or fact, and gives
slot-style facts a ``slot`` (``"name"``, ``"lives_in"``, ``"favorite:color"``,
``"name_of:dog"``...) so that a newer value can supersede an older one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from memori.core import Memory, MemoryKind, Turn
from memori.extractors.phrasing import continuation, courtesy, dropped_subject, strip_opener
from memori.extractors.when import memory_metadata

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|mine|me|we|our|we're)\b", re.I)
_REMEMBER = re.compile(r"^\s*(please\s+)?(remember|note|keep in mind)\s+(that\s+)?", re.I)
_QUESTION_START = re.compile(
    r"^\s*(what|who|when|where|why|how|which|do|does|did|can|could|would|should|is|are|"
    r"will|remind me|tell me)\b(?!['\u2019]t)", re.I,
)
"""A question's opening; a negated auxiliary ("Can't eat gluten.") opens a statement."""
_GOAL = re.compile(
    r"\b(goal|want to|wanna|plan to|planning to|aim to|hope to|trying to|training for|"
    r"going to|gonna|intend to|about to|looking forward to|can't wait to|thinking of|"
    r"thinking about|considering|signed up for|scheduled|i'll|i will|we'll|we will|"
    r"(?:next|this coming) (?:week|weekend|month|year|spring|summer|fall|autumn|winter)|"
    r"tomorrow|by (january|february|march|april|may|june|july|august|september|"
    r"october|november|december|next|the end))\b", re.I,
)
"""Goals and plans: what the speaker means to do."""
_PREFERENCE = re.compile(
    r"\b(like|love|enjoy|prefer|hate|dislike|can't stand|favou?rite|allergic|vegetarian|"
    r"vegan|don't eat|do not eat|avoid|fan of|into|obsessed with|passionate about|"
    r"drawn to|crazy about|can't get enough|my thing|not a fan|intolerant|no longer|anymore|"
    r"(?:don't|do not|can't|cannot|never|won't) (?:eat|drink|have|like|stand|touch))\b",
    re.I,
)
"""Preferences, the negative ones too ("not a fan of", "no longer", "intolerant")."""
_EVENT = re.compile(
    r"\b(yesterday|last (week|month|year|night)|today|went|visited|attended|moved|started|"
    r"finished|got married|graduated|ago|recently|just|the other day|last weekend|"
    r"got|took|won|lost|bought|met|joined|adopted|"
    r"in (?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december|\d{4}))\b", re.I,
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
_FAVORITE_AFTER = re.compile(r"\b(?:is|are) my favou?rite (\w+)\b(?! (?:is|are)\b)", re.I)
"""The object named first: "Pizza is my favourite food."."""
_NAMED = re.compile(r"\b(?i:my) (\w+)(?:'s name is| is (?:called|named)|,? (?:named|called)) [A-Z]")
"""A relation's name: "My dog is called Rex.", "my sister, named Ana"."""
_GOAL_OF = re.compile(r"\bmy (\w+) goal is\b|^\s*goal\s*:", re.I)

_STANDING = re.compile(r"^\s*(prefer|avoid|always|never|no more)\b", re.I)
"""A standing instruction about the user's own ways: "Prefer low-carb dinners on weekdays."."""

_LABEL = re.compile(r"^\s*(goal|preference|fact|note|reminder|plan|diet|allergy)\s*:", re.I)

MIN_WORDS = 3

_CLAUSE = re.compile(r"\s*[,;]\s*|\s+[-\u2013\u2014]\s+")
_ASKING_FRAME = re.compile(
    r"^(?i:(?:so|and|but|well|also|ok|okay|now)\s+)?"
    r"(?i:i(?:'m| am| was)? (?:just )?(?:wondering|curious)|i wonder|quick question|"
    r"(?:i )?(?:have|had|got) a (?:quick )?question|(?:i )?need (?:some )?(?:help|advice)|"
    r"i(?:'d| would) like to (?:know|ask)|i want(?:ed)? to (?:know|ask)|"
    r"i(?:'ve| have)? been (?:thinking|wondering)|i (?:was )?think(?:ing)?|"
    r"i (?:don't|do not) know|i'm not sure|not sure|i (?:can't|cannot) decide|"
    r"i'm confused|i'm stuck|i forgot|i can't remember|i mean|i guess|let me ask|"
    r"by the way|btw|fyi|speaking of(?: which| that)?|enough about me|anyway|anyways|"
    r"just curious|out of curiosity|one more thing)\b")
"""Clauses that only lead into the question: nothing about the speaker to remember."""
_TAG = re.compile(
    r"(?i:right|huh|eh|yeah|yes|no|ok|okay|alright|agreed|ya know|you know|y'know|"
    r"don't you think|don't you agree|isn't it|wasn't it|aren't they|am i right|true)")
"""A question tag: what stands before it is a statement put to the listener."""
_SUPPOSING = re.compile(
    r"^(?i:if|unless|whether|suppose|supposing|assuming|say|in case|even if|what if|when|"
    r"once|before|after|should)\b")
"""Clauses that suppose, or time the question, rather than state."""


@dataclass(frozen=True)
class Candidate:
    text: str
    kind: str
    slot: str | None


def classify(sentence: str) -> Candidate | None:
    """A memory candidate from one sentence of a user turn, or None."""
    said = strip_opener(sentence)
    text = _REMEMBER.sub("", said).strip()
    remembered = text != said
    if len(_REMEMBER.sub("", sentence).split()) < MIN_WORDS or len(text.split()) < 2 \
            or text.endswith("?") or _QUESTION_START.match(text):
        return None
    if not remembered and courtesy(text):
        return None
    labelled = _LABEL.match(text) is not None
    standing = _STANDING.match(text) is not None
    if not (remembered or labelled or standing or _FIRST_PERSON.search(text)
            or dropped_subject(text)):
        return None
    slot = next((name for pattern, name in _SLOTS if pattern.search(text)), None)
    fav = _FAVORITE.search(text) or _FAVORITE_AFTER.search(text)
    if fav:
        slot = "favorite:" + fav.group(1).lower()
    named = _NAMED.search(text)
    if named and slot is None:
        slot = "name_of:" + named.group(1).lower()
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


def stated_before_asking(sentence: str) -> Candidate | None:
    """The statement a question opens with ("Just moved to Berlin, any tips?", "My sister
    is Anna, what do you think of the name?"): the clauses before the question's own that
    state something, leaving out those that lead into the question ("I was wondering",
    "by the way") or suppose ("If I move to Oslo"). A statement with a tag ("..., right?")
    is an opinion put to the listener, and gives nothing."""
    if not sentence.rstrip().endswith("?"):  # most sentences: no clause work at all
        return None
    clauses = [c.strip() for c in _CLAUSE.split(sentence.strip())]
    if len(clauses) < 2 or _TAG.fullmatch(clauses[-1].rstrip("?!. ")):
        return None
    stated = [c for c in clauses[:-1]
              if (said := strip_opener(c)) and not _ASKING_FRAME.match(said)
              and not _SUPPOSING.match(said)]
    return classify(", ".join(stated)) if stated else None


def candidates(content: str) -> list[Candidate]:
    """The memory candidates of one user turn; a sentence that refers back to the one
    kept just before it ("I took up pottery. It's so calming.") is joined to it."""
    found: list[Candidate] = []
    chained = False
    for match in _SENTENCE.finditer(content):
        cand = classify(match.group(0)) or stated_before_asking(match.group(0))
        if cand is not None:
            found.append(cand)
            chained = True
            continue
        more = continuation(match.group(0)) if chained else None
        if more is None:
            chained = False
            continue
        found[-1] = replace(found[-1], text=f"{found[-1].text} {more}")
    return found


class OfflineExtractor:
    """Rule-based extraction from user turns; deterministic, fast, no network."""

    name = "offline"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        out: list[Memory] = []
        for turn in turns:
            if turn.role != "user" or not turn.content.strip():
                continue
            for cand in candidates(turn.content):
                out.append(Memory(
                    entity_id=turn.entity_id, process_id=turn.process_id,
                    session_id=turn.session_id, content=cand.text, kind=cand.kind,
                    source_turn_ids=(turn.id,),
                    metadata=memory_metadata(cand.slot, cand.text, turn.created_at),
                ))
        return out

