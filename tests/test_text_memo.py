"""``memo_short_texts``: results kept for short texts only, bounded, same answers."""

from __future__ import annotations

from memori.core.text_memo import memo_short_texts


def test_short_texts_are_worked_out_once_long_ones_every_time() -> None:
    calls: list[str] = []

    @memo_short_texts(maxsize=2, max_chars=5)
    def shout(text: str) -> str:
        calls.append(text)
        return text.upper()

    assert [shout("hi"), shout("hi"), shout("longer text"), shout("longer text")] == [
        "HI", "HI", "LONGER TEXT", "LONGER TEXT"]
    assert calls == ["hi", "longer text", "longer text"]
    shout("a"), shout("b"), shout("hi")  # two kept at most: "hi" was pushed out
    assert calls[-1] == "hi" and calls.count("hi") == 2
