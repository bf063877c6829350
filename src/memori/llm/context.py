"""The context block: recalled memories and recent session history, delimited and budgeted.

The block is one system message inserted after the caller's leading system
(or developer) messages, or appended to the Responses API ``instructions``.
It is built into a copy of the request: the caller's list and dicts are never
changed, so reusing one ``messages`` list across calls never piles blocks up.
Its size, tags included, stays within the token budget, counted offline.

The block is dated: a "Today is ..." line, and each memory or turn shows the day it
was said (and, for a memory whose text names one, the day it is about: the
``event_date`` metadata the extractor resolves), so "when did I...?" can be answered.
Days are UTC calendar dates.

Recalled turns that say nothing about the user are not shown as memories: the
user's own earlier questions (a user turn ending with "?" in which no clause
states something in the first person) and acknowledgements ("Noted.", "OK",
"Got it", "Sure, will do!"). They stay in the store, in ``recall()`` and in the
session history; the retriever still uses them (a question lends its score to
the answer next to it).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from memori.core import Hit, Memory, Turn
from memori.core.text_memo import memo_short_texts
from memori.llm.filler import says_nothing
from memori.llm.messages import INSTRUCTION_ROLES, as_mapping
from memori.pins import PINNED_SHARE
from memori.retrieval import count_tokens

OPEN_TAG = "<memori_context>"
CLOSE_TAG = "</memori_context>"
PREAMBLE = (
    "Context remembered by memori from earlier conversations with this user. "
    "Use it when it is relevant; it is not part of the user's message."
)
PINNED_HEADING = "Pinned memories:"
MEMORIES_HEADING = "Relevant memories:"
HISTORY_HEADING = "Recent conversation in this session:"
CACHED_LINE_CHARS = 2000
DAY_SECONDS = 86_400
HISTORY_SHARE = 0.5
"""At most this share of the budget goes to session history; memories get the rest."""


@dataclass(frozen=True)
class ContextBlock:
    """The rendered block and what went into it."""

    text: str
    memories: int
    history: int
    tokens: int
    pinned: int = 0
    shown: tuple[Hit, ...] = ()
    """The recalled hits the block shows, in its order."""


_tokens = memo_short_texts(8192, CACHED_LINE_CHARS)(count_tokens)
"""Token count of a block line (short lines remembered: history repeats every call)."""


@memo_short_texts(8192, CACHED_LINE_CHARS)
def _clean(text: str) -> str:
    """One line, with our own tags neutralised so stored text cannot close the block
    (short texts remembered: history and pinned memories repeat every call)."""
    flat = " ".join(text.split())
    return flat.replace(OPEN_TAG, "memori_context").replace(CLOSE_TAG, "/memori_context")


def _turn_line(turn: Turn) -> str:
    text = _clean(turn.content)
    if not text:
        names = [
            str(as_mapping(c.get("function") or {}).get("name") or "")
            for c in (as_mapping(x) for x in turn.metadata.get("tool_calls", ()))
        ]
        text = f"(called {', '.join(n for n in names if n) or 'a tool'})" if names else ""
    return f"{turn.role}: {text}" if text else ""


def day(timestamp: float) -> str:
    """The UTC calendar day of an epoch timestamp, as ``2026-05-08``."""
    try:
        return _day(math.floor(timestamp / DAY_SECONDS))
    except (OverflowError, ValueError):  # inf, nan
        return "undated"


def today_line(now: float) -> str:
    return _today(math.floor(now / DAY_SECONDS))


@lru_cache(maxsize=4096)
def _day(number: int) -> str:
    """Day ``number`` since the epoch (UTC) as ``2026-05-08`` (a block dates every line)."""
    try:
        return datetime.fromtimestamp(number * DAY_SECONDS, timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return "undated"


@lru_cache(maxsize=8)
def _today(number: int) -> str:
    moment = datetime.fromtimestamp(number * DAY_SECONDS, timezone.utc)
    return f"Today is {moment.strftime('%A')}, {moment.strftime('%Y-%m-%d')} (UTC)."


def _hit_line(hit: Hit) -> str:
    text = _clean(hit.content)
    if not text:
        return ""
    item = hit.item
    if isinstance(item, Turn):
        return f"- ({item.role}, {day(item.created_at)}) {text}"
    about = _event_date(item)
    when = day(item.created_at) if about is None else f"{day(item.created_at)}, about {about}"
    return f"- ({when}) {text}"


_ISO_DAY = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


def _event_date(memory: Memory) -> str | None:
    """The memory's ``event_date`` when it is an ISO day, month or year (else not shown)."""
    value = memory.metadata.get("event_date")
    return value if isinstance(value, str) and _ISO_DAY.fullmatch(value) else None


def build_block(
    hits: Sequence[Hit], history: Sequence[Turn], *, budget: int,
    exclude: Iterable[str] = (), now: float | None = None,
    pinned: Sequence[Memory] = (), pinned_share: float = PINNED_SHARE,
    max_hits: int | None = None,
) -> ContextBlock | None:
    """Render the block within ``budget`` tokens; None when there is nothing to say.

    At most ``max_hits`` recalled hits are shown (None: as many as fit): the LLM path
    recalls more than it shows, so that hits the block leaves out (below) do not leave
    places empty.

    ``now`` (default: the clock) dates the block's "Today is ..." line.

    ``pinned`` memories come first, in the order given, within ``pinned_share`` of the
    budget (one that does not fit is skipped); history and recalled memories share
    what is left, and a recalled hit that is pinned is not shown twice.

    History keeps its newest turns (a contiguous tail) within its share of the
    budget; memories fill what is left, best first, each skipped if it does not
    fit. Turns that say nothing (:func:`says_nothing`: the user's own earlier
    questions, acknowledgements) are not shown as memories. Hits whose words
    already appear, in order, in the history or in the request (``exclude``;
    compared as lower-case words, punctuation ignored: the memory "I live in
    Oslo." of the message "Hi. I live in Oslo") are left out.
    """
    start = start_block(history, budget=budget, exclude=exclude, now=now, pinned=pinned,
                        pinned_share=pinned_share)
    return None if start is None else finish_block(start, hits, max_hits=max_hits)


@dataclass(frozen=True)
class BlockStart:
    """A block before its recalled hits (:func:`start_block`): its lines so far, the
    tokens they use of the budget, and what a hit must not repeat."""

    today: str
    fixed: int
    remaining: int
    used: int
    pinned_lines: tuple[str, ...]
    history_lines: tuple[str, ...]
    shown: tuple[str, ...]
    """The words of the request, the history shown and the pinned memories."""
    shown_ids: frozenset[str]
    """Ids of the history turns and pinned memories shown."""


def start_block(
    history: Sequence[Turn], *, budget: int, exclude: Iterable[str] = (),
    now: float | None = None, pinned: Sequence[Memory] = (),
    pinned_share: float = PINNED_SHARE,
) -> BlockStart | None:
    """What :func:`build_block` does before it reads the recalled hits (None: the budget
    holds not even the block's own lines): the LLM path works it out while the query
    is embedded, then :func:`finish_block` adds the hits."""
    today = today_line(time.time() if now is None else now)
    fixed = _tokens(OPEN_TAG) + _tokens(PREAMBLE) + _tokens(today) + _tokens(CLOSE_TAG)
    remaining = budget - fixed
    if remaining <= 0:
        return None
    pinned_lines: list[str] = []
    pinned_cap = int(remaining * pinned_share)
    used = 0
    for memory in pinned:
        line = _hit_line(Hit(memory, 1.0))
        if not line:
            continue
        cost = _tokens(line) + (0 if pinned_lines else _tokens(PINNED_HEADING))
        if used + cost > pinned_cap:
            continue
        pinned_lines.append(line)
        used += cost
    history_lines: list[str] = []
    history_shown: list[Turn] = []
    history_cap = used + int((remaining - used) * HISTORY_SHARE)
    for turn in reversed(history):
        line = _turn_line(turn)
        if not line:
            continue
        cost = _tokens(line) + (0 if history_lines else _tokens(HISTORY_HEADING))
        if used + cost > history_cap:
            break
        history_lines.append(line)
        history_shown.append(turn)
        used += cost
    history_lines.reverse()
    # a hit repeats what the model sees already only if that history is in the block:
    # an older turn cut by the history's share may still come in as a memory
    shown = [_words(_window(t)) for t in exclude]
    shown.extend(_words(_window(t.content)) for t in history_shown)
    shown.extend(_words(m.content) for m in pinned)
    return BlockStart(today, fixed, remaining, used, tuple(pinned_lines), tuple(history_lines),
                      tuple(shown), frozenset({t.id for t in history_shown}
                                              | {m.id for m in pinned}))


def finish_block(
    start: BlockStart, hits: Sequence[Hit], *, max_hits: int | None = None,
) -> ContextBlock | None:
    """The block of :func:`start_block` with the recalled ``hits`` that fit (see
    :func:`build_block`); None when it would show nothing."""
    used, remaining = start.used, start.remaining
    # what the block shows already, one text a line: a hit's words (`` word word ``,
    # never empty, no line break) are in it only where they are in one of the texts
    shown = "\n".join(start.shown)
    memory_lines: list[str] = []
    shown_hits: list[Hit] = []
    for hit in hits:
        if max_hits is not None and len(shown_hits) >= max_hits:
            break
        norm = _words(hit.content)
        if hit.id in start.shown_ids or says_nothing(hit.item) \
                or norm in shown:
            continue
        line = _hit_line(hit)
        if not line:
            continue
        cost = _tokens(line) + (0 if memory_lines else _tokens(MEMORIES_HEADING))
        if used + cost > remaining:
            continue
        shown += "\n" + norm
        memory_lines.append(line)
        shown_hits.append(hit)
        used += cost
    if not start.history_lines and not memory_lines and not start.pinned_lines:
        return None
    parts = [OPEN_TAG, PREAMBLE, start.today]
    if start.pinned_lines:
        parts += [PINNED_HEADING, *start.pinned_lines]
    if memory_lines:
        parts += [MEMORIES_HEADING, *memory_lines]
    if start.history_lines:
        parts += [HISTORY_HEADING, *start.history_lines]
    parts.append(CLOSE_TAG)
    text = "\n".join(parts)
    return ContextBlock(text, len(memory_lines), len(start.history_lines), start.fixed + used,
                        len(start.pinned_lines), tuple(shown_hits))


def inject_chat(messages: Sequence[Any], block: str) -> list[Any]:
    """A new message list: the caller's messages with the block after the leading
    system/developer messages. The caller's list and its items are left as they are."""
    out = list(messages)
    index = 0
    role = "system"
    while index < len(out):
        leading = as_mapping(out[index]).get("role")
        if leading not in INSTRUCTION_ROLES:
            break
        role = str(leading)
        index += 1
    out.insert(index, {"role": role, "content": block})
    return out


def inject_instructions(instructions: Any, block: str) -> str:
    """Responses API ``instructions`` with the block appended (or the block alone)."""
    if isinstance(instructions, str) and instructions.strip():
        return f"{instructions}\n\n{block}"
    return block


_WORD = re.compile(r"\w+")
WINDOW_CHARS = 20_000
"""Of a very long message, the start and end that are compared with memories (a memory
is taken from a message's first ``max_extract_chars``; a question sits at its end)."""


def _window(text: str) -> str:
    if len(text) <= 2 * WINDOW_CHARS:
        return text
    return text[:WINDOW_CHARS] + " \n " + text[-WINDOW_CHARS:]


@memo_short_texts(8192, CACHED_LINE_CHARS)
def _words(text: str) -> str:
    """``text`` as `` word word ``: lower case, punctuation dropped, padded for whole-word
    containment tests (short texts remembered: the session's history repeats every call)."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "
