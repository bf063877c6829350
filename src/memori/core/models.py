"""Value types shared by every layer: scopes, turns, memories and search hits."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from memori.core.forks import in_children
from memori.core.ids import check_id, check_optional_id
from memori.core.strenum import StrEnum

_clock_lock = threading.Lock()
_last_tick = 0.0


def _after_fork_in_child() -> None:
    """A child forked while another thread held the clock's lock has no thread to
    release it: a fresh one (the last tick, copied with the memory, stays)."""
    global _clock_lock
    _clock_lock = threading.Lock()


in_children(_after_fork_in_child)


def now() -> float:
    """Seconds since the epoch, strictly increasing within this process.

    Turns recorded back to back must keep their order even when the system clock
    has coarse resolution, so each call returns at least one microsecond more
    than the previous one.
    """
    global _last_tick
    with _clock_lock:
        t = max(time.time(), _last_tick + 1e-6)
        _last_tick = t
        return t




def new_id() -> str:
    """A fresh random id (uuid4 hex)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Scope:
    """Who is reading or writing: the entity (tenant), the persona and the session.

    ``entity_id`` is required; ``process_id`` and ``session_id`` are optional.
    Every field is validated on construction, so a Scope always holds valid ids.
    """

    entity_id: str
    process_id: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.entity_id, "entity_id")
        check_optional_id(self.process_id, "process_id")
        check_optional_id(self.session_id, "session_id")

    def with_session(self, session_id: str | None) -> Scope:
        return Scope(self.entity_id, self.process_id, session_id)


class ExtractState(StrEnum):
    """Where a turn stands in the augmentation outbox."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation (user, assistant, system or tool).

    ``metadata`` holds JSON-serialisable extras: tool calls, tool call ids,
    the speaker's name, ``partial`` for a stream closed early, and so on.
    """

    entity_id: str
    session_id: str
    role: str
    content: str
    process_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=now)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extract_state: ExtractState = ExtractState.PENDING
    extract_attempts: int = 0
    extract_error: str | None = None
    embedding: tuple[float, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_id(self.entity_id, "entity_id")
        check_optional_id(self.process_id, "process_id")
        check_id(self.session_id, "session_id")
        if not isinstance(self.role, str) or not self.role:
            raise ValueError("role must be a non-empty str")
        if not isinstance(self.content, str):
            raise ValueError("content must be a str")

    @property
    def scope(self) -> Scope:
        return Scope(self.entity_id, self.process_id, self.session_id)

    def visible_to(self, scope: Scope) -> bool:
        """The visibility rule of turns, as the reference for every backend: the
        entity, exactly the persona (None: none) and, when given, the session."""
        return (self.entity_id == scope.entity_id and self.process_id == scope.process_id
                and (scope.session_id is None or self.session_id == scope.session_id))


class MemoryKind(StrEnum):
    """What a long-term memory records."""

    FACT = "fact"
    PREFERENCE = "preference"
    GOAL = "goal"
    EVENT = "event"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Memory:
    """A long-term memory of an entity.

    ``process_id`` None means the memory belongs to no persona and is visible
    to all of the entity's personas; ``shared`` makes a persona's memory
    visible to all personas too. ``superseded_by`` names the newer memory that
    replaced this one: superseded memories are history, not recalled as current.
    ``count`` and ``last_seen_at`` record how often the memory was seen again.
    ``pinned`` memories are injected first on every LLM call of a scope that sees
    them; a memory with ``expires_at`` (epoch seconds) is never recalled from that
    time on, and a sweep removes it.
    """

    entity_id: str
    content: str
    process_id: str | None = None
    shared: bool = False
    kind: str = MemoryKind.FACT.value
    id: str = field(default_factory=new_id)
    session_id: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float | None = None
    last_seen_at: float | None = None
    count: int = 1
    superseded_by: str | None = None
    source_turn_ids: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    embedding: tuple[float, ...] | None = field(default=None, compare=False, repr=False)
    pinned: bool = False
    expires_at: float | None = None

    def __post_init__(self) -> None:
        check_id(self.entity_id, "entity_id")
        check_optional_id(self.process_id, "process_id")
        check_optional_id(self.session_id, "session_id")
        if not isinstance(self.content, str):
            raise ValueError("content must be a str")
        if isinstance(self.kind, Enum):
            object.__setattr__(self, "kind", self.kind.value)

    def visible_to(self, scope: Scope) -> bool:
        """The visibility rule of memories, as the reference for every backend."""
        if self.entity_id != scope.entity_id:
            return False
        if self.process_id is None or self.shared:
            return True
        return scope.process_id is not None and self.process_id == scope.process_id

    @property
    def is_current(self) -> bool:
        return self.superseded_by is None

    def expired(self, at: float) -> bool:
        """Whether the memory has expired by ``at`` (epoch seconds)."""
        return self.expires_at is not None and self.expires_at <= at


MEMORY_PATCH_FIELDS = frozenset(
    {"content", "kind", "shared", "count", "last_seen_at", "updated_at", "superseded_by",
     "metadata", "embedding", "source_turn_ids", "pinned", "expires_at"}
)
"""The fields ``MemoryStore.update_memory`` may change."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a memory or a turn, with a score in [0, 1] (higher is better).

    ``signals`` holds the per-signal scores that went into ``score``
    (for example ``{"text": 0.8, "vector": 0.6, "recency": 0.1}``).
    """

    item: Memory | Turn
    score: float
    signals: Mapping[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def content(self) -> str:
        return self.item.content

    @property
    def kind(self) -> str:
        return "memory" if isinstance(self.item, Memory) else "turn"
