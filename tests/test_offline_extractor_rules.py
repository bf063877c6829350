"""The offline extractor's phrasing rules, each on made-up sentences."""

from __future__ import annotations

from memori.core import Turn
from memori.extractors import OfflineExtractor
from memori.extractors.offline import classify
from memori.extractors.phrasing import courtesy, dropped_subject, strip_opener
from memori.extractors.when import event_date

MONDAY_8_MAY_2023 = 1683504000.0


def kind_of(sentence: str) -> str | None:
    found = classify(sentence)
    return None if found is None else found.kind


def test_an_opening_interjection_and_the_listeners_name_are_dropped() -> None:
    assert strip_opener("Yeah, Priya, I adopted a cat last month.") == \
        "I adopted a cat last month."
    assert strip_opener("Oh wow - I adopted a cat.") == "I adopted a cat."
    assert strip_opener("Hey Tomas, I moved to Lyon.") == "I moved to Lyon."
    assert strip_opener("So many plants in my flat.") == "So many plants in my flat."
    found = classify("Hey Tomas, I moved to Lyon.")
    assert found is not None and found.text == "I moved to Lyon."


def test_a_sentence_without_its_i_is_about_the_speaker() -> None:
    assert dropped_subject("Just got back from a sailing trip.")
    assert dropped_subject("Started a pottery class last week.")
    assert dropped_subject("Researching electric bikes for my commute.")
    assert dropped_subject("Never been to Portugal.")
    assert kind_of("Finished the first draft of the novel yesterday.") == "event"


def test_adjectives_subjects_and_remarks_to_the_listener_are_not_a_dropped_i() -> None:
    assert not dropped_subject("Amazing view from the top.")
    assert not dropped_subject("Painting is such a calm hobby.")
    assert not dropped_subject("Loved your photos from the trip.")
    assert not dropped_subject("Something smells great in here.")
    # an -ing / -ed opening with no first-person word and no time is a noun phrase
    assert not dropped_subject("Pending orders ship at the next run.")
    assert not dropped_subject("Stored in the default place.")
    assert classify("Amazing view from the top.") is None


def test_courtesies_to_the_listener_are_not_memories() -> None:
    for sentence in ("Let me know how the interview goes!", "I totally agree with that.",
                     "I'm so glad you liked the cake.", "I'm always here for you, Sam.",
                     "I hope you enjoy the book!", "I'll let you know how it goes.",
                     "Thanks for the tip about the bakery."):
        assert courtesy(sentence), sentence
        assert classify(sentence) is None, sentence
    assert not courtesy("I'm glad I switched to night shifts.")


def test_a_short_statement_after_a_greeting_is_still_kept() -> None:
    found = classify("hi, I'm Ann")
    assert found is not None and found.text == "I'm Ann."


def test_please_remember_still_wins_over_a_courtesy_frame() -> None:
    found = classify("Please remember that I agree to the Friday slot.")
    assert found is not None and found.text == "I agree to the Friday slot."


def test_plans_are_goals() -> None:
    for sentence in ("I'm gonna repaint the kitchen in spring.",
                     "I'm thinking of learning the cello.",
                     "I signed up for a ceramics course.",
                     "We'll visit my aunt next summer.",
                     "Looking forward to my cousin's wedding."):
        assert kind_of(sentence) == "goal", sentence


def test_preferences_positive_and_negative() -> None:
    for sentence in ("I'm a big fan of board games.", "I'm really into bouldering.",
                     "I'm not a fan of horror films.", "I don't like spicy food.",
                     "I'm lactose intolerant.", "I no longer drink coffee.",
                     "Can't have gluten, sadly, my stomach hates it."):
        assert kind_of(sentence) == "preference", sentence


def test_a_negated_auxiliary_opens_a_statement_not_a_question() -> None:
    assert kind_of("Can't eat peanuts at all, my throat swells.") == "preference"
    assert classify("Can you pass me the salt") is None
    assert classify("Can't you see it?") is None


def test_a_favourite_named_first_gets_its_slot() -> None:
    found = classify("Pistachio is my favourite ice cream.")
    assert found is not None and (found.kind, found.slot) == ("preference",
                                                              "favorite:ice")
    found = classify("My favorite color is teal.")
    assert found is not None and found.slot == "favorite:color"


def test_a_relations_name_gets_a_slot_so_a_rename_supersedes_it() -> None:
    for sentence, slot in (("My dog is called Biscuit.", "name_of:dog"),
                           ("My sister, named Ana, lives nearby.", "name_of:sister"),
                           ("My son's name is Theo.", "name_of:son")):
        found = classify(sentence)
        assert found is not None and found.slot == slot, sentence


def test_past_markers_make_an_event_with_its_date() -> None:
    turn = Turn("u", "s", "user", "Oh, I joined a choir two weekends ago.",
                created_at=MONDAY_8_MAY_2023)
    [memory] = OfflineExtractor().extract([turn])
    assert (memory.kind, memory.content) == ("event", "I joined a choir two weekends ago.")
    assert memory.metadata["event_date"] == "2023-04-29"


def test_seasons_resolve_to_their_year() -> None:
    assert event_date("We went to Norway last summer.", MONDAY_8_MAY_2023) == "2022"
    assert event_date("I'm moving next winter.", MONDAY_8_MAY_2023) == "2023"
    assert event_date("I'm off to Crete this summer.", MONDAY_8_MAY_2023) == "2023"


def test_a_sentence_pointing_back_joins_the_memory_before_it() -> None:
    turn = Turn("u", "s", "user", "I took up pottery in March. It's so calming after work. "
                "What about you? They say clay is good for the nerves.")
    [memory] = OfflineExtractor().extract([turn])
    assert memory.content == "I took up pottery in March. It's so calming after work."


def test_a_pointing_back_sentence_alone_is_not_a_memory() -> None:
    turn = Turn("u", "s", "user", "Thanks, Leo! It's a lovely place to sit in the sun.")
    assert OfflineExtractor().extract([turn]) == []


def test_a_statement_that_opens_a_question_is_kept() -> None:
    """Users often state a fact on the way to a question; the question is not kept."""
    from memori.extractors.offline import candidates

    cases = {
        "Just moved to Berlin, any tips?": ["Just moved to Berlin."],
        "I moved to Oslo last year, any good cafes?": ["I moved to Oslo last year."],
        "Been vegan for two years now, what should I cook tonight?":
            ["Been vegan for two years now."],
        "I'm training for a marathon in May - any tips on nutrition?":
            ["I'm training for a marathon in May."],
        "FYI, I finished another pottery project - want to see a pic?":
            ["I finished another pottery project."],
    }
    for text, expected in cases.items():
        assert [c.text for c in candidates(text)] == expected, text
    assert candidates("Been vegan for two years now, what should I cook tonight?")[0].kind \
        == "preference"


def test_what_only_leads_into_a_question_or_supposes_is_not_a_memory() -> None:
    from memori.extractors.offline import candidates

    for text in ("If I move to Oslo, what should I pack?",
                 "I was wondering, could you help me with my essay?",
                 "So I've been thinking, should I quit my job?",
                 "Honestly, I don't know, what do you suggest?",
                 "By the way, what's my sister's name?",
                 "Speaking of which, I'm curious, any more tips for baking?",
                 "When I was in Berlin, what did I eat?",
                 "Hey Jon, how are you?",
                 "We all need a push sometimes, right?",  # an opinion put to the listener
                 "What is my sister's name?"):
        assert candidates(text) == [], text
