"""The retention policy: how long a new memory lives, by kind.

``Memori(retention={"default": seconds, "<kind>": seconds})`` gives every memory
created by extraction or ``remember`` an ``expires_at`` of its creation time plus the
seconds of its kind (else of ``"default"``; a kind mapped to None never expires).
A memory that already carries ``expires_at`` (``remember(..., ttl=...)``) keeps it.
``MEMORI_RETENTION`` sets it when the application does not: ``default=2592000,event=86400``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from memori import settings as env
from memori.core import ConfigurationError, Memory

RETENTION = "MEMORI_RETENTION"
DEFAULT_KEY = "default"


def check_seconds(value: Any, name: str) -> float:
    """A positive, finite number of seconds (``ValueError`` naming ``name`` otherwise)."""
    if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Retention:
    """Seconds a memory lives, per kind; ``DEFAULT_KEY`` for the kinds not named."""

    seconds: Mapping[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Any) -> Retention:
        """A policy from ``Memori(retention=...)``: a mapping, a Retention or None."""
        if value is None:
            return cls()
        if isinstance(value, Retention):
            return value
        if not isinstance(value, Mapping):
            raise ValueError("retention must be a dict of kind -> seconds, "
                             f"got {type(value).__name__}")
        out: dict[str, float | None] = {}
        for kind, seconds in value.items():
            if not isinstance(kind, str) or not kind:
                raise ValueError(f"retention keys must be kinds (non-empty str), got {kind!r}")
            out[kind] = None if seconds is None else check_seconds(seconds, f"retention[{kind!r}]")
        return cls(out)

    @property
    def active(self) -> bool:
        return any(s is not None for s in self.seconds.values())

    def lifetime(self, kind: str) -> float | None:
        """The seconds a memory of ``kind`` lives, or None (forever)."""
        if kind in self.seconds:
            return self.seconds[kind]
        return self.seconds.get(DEFAULT_KEY)

    def apply(self, memory: Memory) -> Memory:
        """``memory`` with its ``expires_at`` set by the policy, unless it has one."""
        if memory.expires_at is not None:
            return memory
        seconds = self.lifetime(memory.kind)
        if seconds is None:
            return memory
        return replace(memory, expires_at=memory.created_at + seconds)


def from_env() -> Retention | None:
    """The policy of ``MEMORI_RETENTION`` (``kind=seconds`` pairs, comma-separated; ``none``
    for never); None when unset. ``ConfigurationError`` naming the variable otherwise."""
    value = env.text(RETENTION)
    if value is None:
        return None
    pairs: dict[str, float | None] = {}
    for part in value.split(","):
        kind, sep, seconds = (p.strip() for p in part.partition("="))
        if not sep or not kind:
            raise ConfigurationError(f"{RETENTION} must be kind=seconds pairs separated by "
                                     f"commas (default=2592000,event=86400); got {value!r}")
        if seconds.lower() == "none":
            pairs[kind] = None
            continue
        try:
            pairs[kind] = check_seconds(float(seconds), kind)
        except ValueError:
            raise ConfigurationError(f"{RETENTION}: {kind} must be a positive number of "
                                     f"seconds or none; got {seconds!r}") from None
    return Retention(pairs)
