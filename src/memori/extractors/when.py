"""The day a statement is about, resolved against the moment it was said.

"I ran a 10K last week", said on 2023-05-08, is about the week of 2023-05-01;
"we met on 8 May" is about 2023-05-08; "I moved in June" is about 2023-06 (a
month). :func:`event_date` gives that day as ISO text (``2023-05-08``,
``2023-06`` for a month, ``2022`` for a year) or None when the text names no
time. English phrases only; UTC calendar days. The extractors store it as the
memory's ``event_date`` metadata and the context block shows it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3}

_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}\b(?:,? (\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH} (\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (\d{{4}}))?", re.I)
_IN_MONTH = re.compile(rf"\b(?:in|since|during|last|this|next|by|until) {_MONTH}\b(?: (\d{{4}}))?",
                       re.I)
_OF_MONTH_YEAR = re.compile(rf"\bof {_MONTH},? (\d{{4}})\b", re.I)
"""'the beginning of November 2022', 'as of December 2023': a month named with its year."""
_IN_YEAR = re.compile(r"\b(?:in|since|during) (\d{4})\b", re.I)
_SEASON_YEAR = re.compile(r"\b(spring|summer|fall|autumn|winter),?(?: of)? (\d{4})\b", re.I)
"""'in summer 2021', 'the winter of 2022': the season's year (as :func:`_season` gives)."""
_AGO = re.compile(r"\b(\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|"
                  r"couple of|few) (day|weekend|week|month|year)s? ago\b", re.I)
_SEASON = re.compile(r"\b(last|this|next) (spring|summer|fall|autumn|winter)\b", re.I)
SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
"""The month a (northern) season starts; a season is dated by the year it starts in."""
_RELATIVE = re.compile(r"\b(yesterday|today|tonight|tomorrow|"
                       r"(?:last|this|next) (?:night|week|weekend|month|year)|"
                       r"(?:last|this|next|on) (?:monday|tuesday|wednesday|thursday|friday|"
                       r"saturday|sunday))\b", re.I)


def event_date(text: str, said_at: float) -> str | None:
    """The day (or month, or year) ``text`` is about, resolved against ``said_at``."""
    said = datetime.fromtimestamp(said_at, timezone.utc).date()
    for resolve in (_absolute, _relative, _ago, _month, _season, _year):
        found = resolve(text, said)
        if found is not None:
            return found
    return None


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(name.lower()[:3]))


def _absolute(text: str, said: date) -> str | None:
    for pattern, day_group, month_group in ((_DAY_MONTH, 1, 2), (_MONTH_DAY, 2, 1)):
        found = pattern.search(text)
        if found is None:
            continue
        year = int(found.group(3)) if found.group(3) else said.year
        try:
            return date(year, _month_number(found.group(month_group)),
                        int(found.group(day_group))).isoformat()
        except ValueError:
            continue
    return None


def _relative(text: str, said: date) -> str | None:
    found = _RELATIVE.search(text)
    if found is None:
        return None
    phrase = found.group(1).lower()
    if phrase in ("today", "tonight"):
        return said.isoformat()
    if phrase == "yesterday" or phrase == "last night":
        return (said - timedelta(days=1)).isoformat()
    if phrase == "tomorrow":
        return (said + timedelta(days=1)).isoformat()
    which, unit = phrase.split(" ", 1)
    step = {"last": -1, "this": 0, "next": 1, "on": 0}[which]
    if unit in WEEKDAYS:
        return _weekday(said, WEEKDAYS.index(unit), which).isoformat()
    if unit in ("week", "weekend"):
        monday = said - timedelta(days=said.weekday()) + timedelta(weeks=step)
        return (monday + timedelta(days=5) if unit == "weekend" else monday).isoformat()
    if unit == "month":
        month = said.month - 1 + step
        return f"{said.year + month // 12:04d}-{month % 12 + 1:02d}"
    return f"{said.year + step:04d}"


def _weekday(said: date, weekday: int, which: str) -> date:
    back = (said.weekday() - weekday) % 7
    if which == "last":
        return said - timedelta(days=back or 7)
    if which == "next":
        return said + timedelta(days=(weekday - said.weekday()) % 7 or 7)
    return said - timedelta(days=back)  # "on Friday", "this Friday": the latest one


def _ago(text: str, said: date) -> str | None:
    found = _AGO.search(text)
    if found is None:
        return None
    raw = found.group(1).lower()
    count = int(raw) if raw.isdigit() else _NUMBER[raw]
    unit = found.group(2).lower()
    if unit == "day":
        return (said - timedelta(days=count)).isoformat()
    if unit == "week":
        return (said - timedelta(weeks=count)).isoformat()
    if unit == "weekend":  # "two weekends ago": the Saturday of the week two weeks back
        monday = said - timedelta(days=said.weekday(), weeks=count)
        return (monday + timedelta(days=5)).isoformat()
    if unit == "month":
        month = said.month - 1 - count
        return f"{said.year + month // 12:04d}-{month % 12 + 1:02d}"
    return f"{said.year - count:04d}"


def _month(text: str, said: date) -> str | None:
    found = _IN_MONTH.search(text)
    if found is None:
        named = _OF_MONTH_YEAR.search(text)
        if named is None:
            return None
        return f"{int(named.group(2)):04d}-{_month_number(named.group(1)):02d}"
    month = _month_number(found.group(1))
    if found.group(2):
        return f"{int(found.group(2)):04d}-{month:02d}"
    word = found.group(0).split(" ", 1)[0].lower()
    year = said.year
    if word in ("last", "in", "since", "during") and month > said.month:
        year -= 1  # "in June", said in May: the June before (past tense is the usual case)
    elif word in ("next", "by", "until") and month < said.month:
        year += 1
    if word in ("in", "during") and month > said.month and _future(text):
        year += 1
    return f"{year:04d}-{month:02d}"


def _future(text: str) -> bool:
    return re.search(r"\b(will|going to|plan|planning|want to|hope to|'ll)\b", text, re.I) \
        is not None


def _season(text: str, said: date) -> str | None:
    """"last summer", "this winter", "next spring", "summer 2021": the year the season
    starts in."""
    found = _SEASON.search(text)
    if found is None:
        named = _SEASON_YEAR.search(text)
        return None if named is None else f"{int(named.group(2)):04d}"
    which, month = found.group(1).lower(), SEASON_START[found.group(2).lower()]

    def start(year: int) -> date:
        return date(year, month, 1)

    def end(year: int) -> date:
        return date(year + (month + 2) // 12, (month + 2) % 12 + 1, 1)

    year = said.year if which == "last" else said.year - 1
    if which == "last":
        while end(year) > said:
            year -= 1
    elif which == "next":
        while start(year) <= said:
            year += 1
    else:
        while end(year) <= said:
            year += 1
    return f"{year:04d}"


def _year(text: str, said: date) -> str | None:
    found = _IN_YEAR.search(text)
    return None if found is None else found.group(1)


def memory_metadata(slot: str | None, text: str, said_at: float) -> dict[str, str]:
    """A memory's ``slot`` (when it has one) and ``event_date`` (when its text names a
    time, resolved against when it was said)."""
    meta = {"slot": slot} if slot else {}
    when = event_date(text, said_at)
    if when is not None:
        meta["event_date"] = when
    return meta
