"""The time a query asks about: what was said around then ranks higher.

"What did I do on 9 October 2022?", "what did we plan last week?", "in May 2023": a
query naming a day, a month or a year (the English phrases the extractors resolve,
see :func:`memori.extractors.when.event_date`, resolved here against now) gives a
window: that time, widened by a week on either side (plans are made before the day,
reports come after it). Candidates said within the window, and memories whose
``event_date`` falls in it, gain a bonus: among the items the searches found, those
of the time asked go first. Nothing is searched by time alone. For the relevance
floor, the query's words of time ("october", "2022", "yesterday") count as found in a
candidate said within the window, but only beside a word of the question's subject
it holds: "where did I go hiking on 9 October 2022?" is fully answered by "Hiking
with my sister today", said that day, while a date alone brings in nothing.
Measured on the LoCoMo dev split (130 of its 999 questions name a time): recall@10 at
the LLM path's 10 hits 75.7 without, 77.1 with (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone

from memori.core import Memory, Turn
from memori.extractors.when import MONTHS, SEASON_START, WEEKDAYS, event_date
from memori.retrieval.candidates import Candidate
from memori.retrieval.recency import DAY

MARGIN = 7 * DAY
"""How far the window reaches beyond the day, month or year the query names."""
MAX_CHARS = 2000
"""Only the end of a longer query is read for a time (as the LLM path cuts its query)."""
SIGNAL = "when"
TIME_WORDS = frozenset(
    {*MONTHS, *(m[:3] for m in MONTHS), "sept", *WEEKDAYS, *SEASON_START,
     "yesterday", "today", "tonight", "tomorrow", "day", "days", "week", "weeks", "weekend",
     "weekends", "month", "months", "year", "years", "ago", "last", "next", "past",
     "couple", "few", "one", "two", "three", "four", "five", "six", "seven", "eight",
     "nine", "ten"})
"""Words that say when, besides day numbers and years (see :func:`is_time_word`)."""
_DAY_NUMBER = re.compile(r"(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?")
_YEAR = re.compile(r"(?:1[89]|2\d)\d\d")

_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class Window:
    """Seconds since the epoch: ``start <= t < end``."""

    start: float
    end: float

    def holds(self, t: float) -> bool:
        return self.start <= t < self.end

    def meets(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def iso_span(text: str) -> Window | None:
    """The UTC day, month or year an ISO ``2023-05-08`` / ``2023-05`` / ``2023`` names."""
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    year_text, month_text, day_text = found.groups()
    year = int(year_text)
    try:
        if month_text is None:
            first, after = date(year, 1, 1), date(year + 1, 1, 1)
        elif day_text is None:
            month = int(month_text)
            first, after = date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)
        else:
            first = date(year, int(month_text), int(day_text))
            after = date.fromordinal(first.toordinal() + 1)
    except (ValueError, OverflowError):
        return None
    return Window(_epoch(first), _epoch(after))


def asked_window(query: str, now: float) -> Window | None:
    """The time ``query`` asks about, widened by :data:`MARGIN`; None when it names none."""
    try:
        named = event_date(query[-MAX_CHARS:], now)
    except (ValueError, OverflowError, OSError):  # a clock out of the calendar's range
        return None
    span = iso_span(named) if named else None
    return None if span is None else Window(span.start - MARGIN, span.end + MARGIN)


def is_time_word(word: str) -> bool:
    """Whether a (casefolded) query word says when: a month, a weekday, a season, a
    relative word ("yesterday", "ago"), a day of the month or a year."""
    return word in TIME_WORDS or bool(_DAY_NUMBER.fullmatch(word) or _YEAR.fullmatch(word))


def said_within(item: Memory | Turn, window: Window) -> bool:
    """Whether ``item`` was said within ``window``, or is a memory about a time in it."""
    if window.holds(item.created_at):
        return True
    if isinstance(item, Memory):
        about = item.metadata.get("event_date")
        span = iso_span(about) if isinstance(about, str) else None
        return span is not None and span.meets(window)
    return False


def add_when(candidates: Iterable[Candidate], window: Window | None, bonus: float) -> None:
    """Add ``bonus`` to each candidate said within ``window`` (signal ``when``: 1.0)."""
    if window is None or bonus <= 0:
        return
    for cand in candidates:
        if said_within(cand.item, window):
            cand.score += bonus
            cand.signals[SIGNAL] = 1.0


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
