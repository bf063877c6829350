"""Who the current call is for: entity, persona and session, kept in contextvars.

Each ``Memori`` instance owns one ``ContextVar``: threads and asyncio tasks see
their own attribution and never each other's. A plain ``mem.attribution(...)``
call sets it for the current context; ``with mem.attribution(...):`` restores
the previous attribution on exit.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from memori.core import Scope, check_id, check_optional_id
from memori.core.models import new_id


class _Current:
    """Sentinel: take the persona from the current attribution."""

    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Any = _Current()
"""The default ``process_id=`` of scoped calls: the current attribution's persona."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """The attribution state of one context. ``entity_id`` is None until set."""

    entity_id: str | None = None
    process_id: str | None = None
    session_id: str | None = None

    def scope(self) -> Scope:
        if self.entity_id is None:
            raise ValueError(
                "no entity is attributed: call mem.attribution(entity_id=...) first"
            )
        return Scope(self.entity_id, self.process_id, self.session_id)


EMPTY = Attribution()


def next_attribution(
    current: Attribution, entity_id: str, process_id: str | None, session_id: str | None
) -> Attribution:
    """The attribution after switching to ``(entity_id, process_id)``.

    Naming a session uses it. Otherwise the session is kept only when neither
    the entity nor the persona changes (or a session was chosen before any
    entity was set); any change starts a new session, so one user's history
    can never flow into another's conversation.
    """
    check_id(entity_id, "entity_id")
    check_optional_id(process_id, "process_id")
    check_optional_id(session_id, "session_id")
    if session_id is None:
        same = (current.entity_id, current.process_id) == (entity_id, process_id)
        first_with_session = current.entity_id is None and current.session_id is not None
        session_id = current.session_id if (same or first_with_session) else None
    return Attribution(entity_id, process_id, session_id or new_id())


class AttributionScope:
    """The handle ``mem.attribution(...)`` returns: already applied; a context manager too."""

    def __init__(self, var: ContextVar[Attribution], value: Attribution) -> None:
        self._var = var
        self.value = value
        self._token: Token[Attribution] | None = var.set(value)

    def __enter__(self) -> Attribution:
        return self.value

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            self._var.reset(self._token)
            self._token = None

    async def __aenter__(self) -> Attribution:
        return self.value

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        v = self.value
        return (
            f"Attribution(entity_id={v.entity_id!r}, process_id={v.process_id!r}, "
            f"session_id={v.session_id!r})"
        )
