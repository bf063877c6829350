"""The workload the latency benchmarks share: memory texts over topics and one distinct
question per call. Standard library only: ``bench_side_by_side.py`` also runs it in
other libraries' environments, where memori is not installed."""

from __future__ import annotations

import random

TOPICS = (
    "running", "cooking", "travel", "finance", "music", "reading", "garden", "family",
    "work", "health", "movies", "coffee", "cycling", "languages", "photography", "chess",
)
WORDS = (
    "morning", "evening", "weekly", "monthly", "prefers", "dislikes", "wants", "plans",
    "bought", "sold", "visited", "learned", "started", "stopped", "tried", "loves", "avoids",
    "budget", "goal", "habit", "friend", "sister", "brother", "city", "river", "mountain",
    "beach", "kitchen", "office", "guitar", "piano", "bike", "train", "flight", "hotel",
    "vegetarian", "spicy", "sweet", "early", "late", "quiet", "busy", "new", "old",
    "favourite", "usual",
)


def corpus(n: int, seed: int = 11) -> list[str]:
    """Distinct memory texts, spread over topics, with enough shared words to rank."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
        out.append(f"About {topic}: the user {words} (note {i}).")
    return out


def query(i: int) -> str:
    """A distinct user message per call (so no embedding cache hides the embedder)."""
    topic = TOPICS[i % len(TOPICS)]
    return f"What do you remember about my {topic} {WORDS[i % len(WORDS)]}? (message {i})"


def message(i: int, words: int = 0) -> str:
    """The call's user message: :func:`query` alone (``words`` 0), or that question led
    by a story of the user's so that the message holds ``words`` words."""
    question = query(i)
    opening = f"Yesterday my {TOPICS[i % len(TOPICS)]} plans:"
    lead = words - len(question.split()) - len(opening.split())
    if lead <= 0:
        return question
    rng = random.Random(i)
    return f"{opening} {' '.join(rng.choice(WORDS) for _ in range(lead))}. {question}"
