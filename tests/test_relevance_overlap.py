"""The overlap judged by looking words up (``Relevance.overlap``) is exactly the rule
it implements, written term by term: random queries and texts, long and short, with
inflections, long words sharing a head, CJK pairs and words of time."""

from __future__ import annotations

import random

import pytest

from memori.retrieval.relevance import HEAD, Relevance, _words_of
from memori.retrieval.when import asked_window

_WORDS = (
    "allergic allergies allergy peanut peanuts painting painted paints paint run runs "
    "running hiking hiked hike october 2022 march may yesterday sister brother lena "
    "canoe canoes repaired repairing river beach mountain vegetarian prefers preferred "
    "preference kitchen friend friends morning mornings remember remind tell weekly "
    "marathon marathons photography photographer photographs 花生 过敏 我对花生过敏 "
    "这个蛋糕有花生吗 公園 散歩 the a of what when did i my on in at week last"
)
VOCABULARY = tuple(_WORDS.split())


def term_by_term(judge: Relevance, text: str, said_then: bool) -> float:
    """``overlap`` as the rule reads: each query term in turn."""
    if not judge.needed:
        return 0.0
    words = _words_of(text)
    found = subject = then = 0
    for forms, prefix, timely in zip(judge.forms, judge.prefixes, judge.timely, strict=True):
        if not forms.isdisjoint(words.present):
            hit = True
        elif prefix is not None and prefix[:HEAD] in words.heads:
            hit = any(w.startswith(prefix) for w in words.present)
        else:
            hit = False
        found += hit
        subject += hit and not timely
        then += not hit and timely and said_then
    if subject:
        found += then
    return min(1.0, found / judge.needed)


@pytest.mark.parametrize("seed", range(40))
def test_looking_words_up_gives_the_rule_term_by_term(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        query = " ".join(rng.choices(VOCABULARY, k=rng.randint(1, 40)))
        window = asked_window(query, 1_700_000_000.0) if rng.random() < 0.5 else None
        judge = Relevance(query, window)
        for _ in range(10):
            # short texts take the lookup; long ones (more words than forms) the terms
            size = rng.choice([rng.randint(0, 12), rng.randint(60, 400)])
            text = " ".join(rng.choices([*VOCABULARY, *(f"w{i}" for i in range(300))], k=size))
            for said_then in (False, True):
                assert judge.overlap(text, said_then=said_then) == \
                    term_by_term(judge, text, said_then), (query, text, said_then)


def test_both_ways_of_judging_are_taken() -> None:
    judge = Relevance("When did Lena hike the mountain in October 2022?")
    assert 0 < len(_words_of("Lena hiked").present) <= len(judge._bits)
    long = " ".join(f"w{i}" for i in range(500)) + " Lena hiked"
    assert len(_words_of(long).present) > len(judge._bits)
    assert judge.overlap("Lena hiked") == judge.overlap(long) == term_by_term(
        judge, long, False) > 0
