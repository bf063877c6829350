"""Filters of ``list_memories`` and ``recall``: kind, metadata, creation time, text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memori.core import Memory, Turn
from memori.core.inputs import check_metadata


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """What an item must match; a field left None matches everything.

    ``metadata``: each given key equals; ``since``/``until``: ``created_at`` bounds
    (inclusive, epoch seconds); ``contains``: a case-insensitive substring of the text.
    ``kind`` matches memories only: a turn has no kind, so a filter with one leaves
    turns out; so does ``shared`` (True: memories every persona of the entity sees,
    persona-less or shared; False: a persona's own unshared memories).
    """

    kind: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    since: float | None = None
    until: float | None = None
    contains: str | None = None
    shared: bool | None = None

    @classmethod
    def of(
        cls, *, kind: Any = None, metadata: Any = None, since: Any = None, until: Any = None,
        contains: Any = None, shared: Any = None,
    ) -> MemoryFilter:
        """A filter from user arguments; ``ValueError`` naming the bad one."""
        if kind is not None and (not isinstance(kind, str) or not kind):
            raise ValueError("kind must be a non-empty str")
        if shared is not None and not isinstance(shared, bool):
            raise ValueError(f"shared must be True, False or None, got {shared!r}")
        if contains is not None and not isinstance(contains, str):
            raise ValueError(f"contains must be a str, got {type(contains).__name__}")
        low, high = epoch(since, "since"), epoch(until, "until")
        if low is not None and high is not None and low > high:
            raise ValueError("since must not be later than until")
        return cls(kind=kind, metadata=check_metadata(metadata), since=low, until=high,
                   contains=contains.casefold() if contains else None, shared=shared)

    @property
    def active(self) -> bool:
        return bool(self.kind is not None or self.metadata or self.since is not None
                    or self.until is not None or self.contains or self.shared is not None)

    def matches(self, item: Memory | Turn) -> bool:
        if self.kind is not None and not (isinstance(item, Memory) and item.kind == self.kind):
            return False
        if self.shared is not None and not (
                isinstance(item, Memory)
                and (item.process_id is None or item.shared) is self.shared):
            return False
        if self.since is not None and item.created_at < self.since:
            return False
        if self.until is not None and item.created_at > self.until:
            return False
        if self.contains and self.contains not in item.content.casefold():
            return False
        meta = item.metadata
        return all(key in meta and meta[key] == value for key, value in self.metadata.items())


def epoch(value: Any, name: str) -> float | None:
    """A time bound as epoch seconds: a ``datetime`` (naive: local time) or a number."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if type(value) in (int, float):
        return float(value)
    raise ValueError(f"{name} must be a datetime or epoch seconds, got {type(value).__name__}")
