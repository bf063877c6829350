"""Conversation context: turns next to a strongly matching turn share some of its score.

In a conversation the answer to a question often sits one or two turns away
from the words that match it ("Did you go?" / "Yes, last Sunday"). The best
turn candidates (the seeds) lend ``weight / distance`` of their score to the
turns up to ``window`` places before and after them in their session, which
also brings in neighbours that no search returned. The turn right after a seed
that asks a question (its text ends with "?") gets ``answer_weight`` times that:
an answer follows its question ("What inspired you?" / "I painted it after I
visited the centre"), while the turn after a statement is as often a reply that
says nothing of it ("Great goal!").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from memori.core import Turn
from memori.retrieval.candidates import Candidate, Key, key_of


def seed_turns(candidates: Iterable[Candidate], count: int) -> list[Candidate]:
    """The ``count`` best turn candidates, best first."""
    turns = [c for c in candidates if isinstance(c.item, Turn)]
    turns.sort(key=lambda c: (-c.score, -c.item.created_at, c.item.id))
    return turns[: max(0, count)]


def seed_sessions(seeds: Sequence[Candidate]) -> list[str]:
    """The distinct sessions of the seeds, in seed order."""
    return list(dict.fromkeys(c.item.session_id for c in seeds if isinstance(c.item, Turn)))


def add_neighbours(
    candidates: dict[Key, Candidate], seeds: Sequence[Candidate],
    sessions: Mapping[str, Sequence[Turn]], *, window: int, weight: float,
    relevance: Callable[[Candidate], float] | None = None, answer_weight: float = 1.0,
) -> None:
    """Give each seed's neighbours ``weight * seed score / distance`` (signal ``context``),
    the turn right after a seed that asks a question ``answer_weight`` times that.

    ``sessions`` maps a session id to its turns, oldest first. Bonuses come from
    the seeds' scores before any bonus, so the order of the seeds does not matter.
    With ``relevance``, each neighbour's ``lent`` becomes at least its seed's relevance.
    """
    if window <= 0 or weight <= 0:
        return
    base = [(seed, seed.score, relevance(seed) if relevance else 0.0) for seed in seeds]
    positions = {
        sid: {t.id: i for i, t in enumerate(turns)} for sid, turns in sessions.items()
    }
    for seed, seed_score, seed_relevance in base:
        turn = seed.item
        if not isinstance(turn, Turn):
            continue
        turns = sessions.get(turn.session_id, ())
        at = positions.get(turn.session_id, {}).get(turn.id)
        if at is None:
            continue
        answered = answer_weight if asks(turn) else 1.0
        for distance in range(1, window + 1):
            share = weight * seed_score / distance
            if at - distance >= 0:
                _lend(candidates, turns[at - distance], share, distance, seed_relevance)
            if at + distance < len(turns):
                _lend(candidates, turns[at + distance],
                      share * answered if distance == 1 else share, distance, seed_relevance)


def asks(turn: Turn) -> bool:
    """Whether the turn ends with a question (what follows it is most often the answer)."""
    return turn.content.rstrip().endswith("?")


def _lend(candidates: dict[Key, Candidate], turn: Turn, bonus: float, distance: int,
          relevance: float) -> None:
    key = key_of(turn)
    cand = candidates.get(key)
    if cand is None:
        cand = candidates[key] = Candidate(turn)
    cand.score += bonus
    cand.signals["context"] = max(cand.signals.get("context", 0.0), 1.0 / distance)
    cand.lent = max(cand.lent, relevance)
