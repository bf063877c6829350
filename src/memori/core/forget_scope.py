"""Forgetting less than an entity: one persona, or one session, derived from the primitives.

``forget(entity_id)`` erases a whole entity. The grains below it are derived here
from the primitives every store has (list and delete by ids), so a plugin gets them
for free; a store with a faster way implements ``forget_scope`` itself
(:class:`SupportsForgetScope`, :class:`SupportsAsyncForgetScope` for its async twin),
with exactly the same effect:

- persona ``P`` (``process_id=P``): every turn of ``(E, P)``, all sessions, and every
  memory whose ``process_id`` is ``P`` (shared ones included, superseded ones too).
  Memories with no persona, and other personas', stay.
- session ``S`` (``session_id=S``, of persona ``P`` when given, else of every
  persona): the session's turns, and the memories extracted from them alone (every
  one of their ``source_turn_ids`` is a turn of the session). Memories stored with
  ``remember`` (no source turns) and memories other turns also support stay.

Standard library only.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

from memori.core.ids import check_id, check_optional_id
from memori.core.models import Memory, Scope, Turn


@runtime_checkable
class SupportsForgetScope(Protocol):
    """A store that erases one persona or one session of an entity itself."""

    def forget_scope(
        self, entity_id: str, *, process_id: str | None = None, session_id: str | None = None,
    ) -> int: ...


@runtime_checkable
class SupportsAsyncForgetScope(Protocol):
    """A store that erases one persona or one session itself on the event loop (awaited
    by :func:`aforget_scope`; else the sync one runs in a worker thread)."""

    async def aforget_scope(
        self, entity_id: str, *, process_id: str | None = None, session_id: str | None = None,
    ) -> int: ...


def check_grain(entity_id: Any, process_id: Any, session_id: Any) -> None:
    """Valid ids, and a persona or a session named (a whole entity is ``forget``)."""
    check_id(entity_id, "entity_id")
    check_optional_id(process_id, "process_id")
    check_optional_id(session_id, "session_id")
    if process_id is None and session_id is None:
        raise ValueError("forget_scope needs a process_id or a session_id "
                         "(a whole entity: forget(entity_id))")


def from_turns_only(memory: Memory, turn_ids: set[str]) -> bool:
    """Whether the memory was extracted from these turns alone (it has source turns, and
    every one of them is among ``turn_ids``)."""
    return bool(memory.source_turn_ids) and set(memory.source_turn_ids) <= turn_ids


def derive_forget_scope(
    store: Any, entity_id: str, *, process_id: str | None = None,
    session_id: str | None = None,
) -> int:
    """Erase one persona or one session of the entity with the store's primitives;
    returns the number of turns and memories removed."""
    check_grain(entity_id, process_id, session_id)
    if session_id is None:
        return _forget_persona(store, Scope(entity_id, process_id))
    if process_id is not None:
        scope = Scope(entity_id, process_id, session_id)
        turns = store.list_turns(scope)
        memories = store.list_memories(Scope(entity_id, process_id), include_superseded=True)
    else:  # the session under every persona: only a scan of the entity finds them all
        items = list(store.scan(entity_id))
        turns = [t for t in items if isinstance(t, Turn) and t.session_id == session_id]
        memories = [m for m in items if isinstance(m, Memory)]
    turn_ids = {t.id for t in turns}
    doomed = [m for m in memories if from_turns_only(m, turn_ids)]
    removed = _delete_memories(store, entity_id, doomed)
    by_persona: dict[str | None, list[str]] = {}
    for t in turns:
        by_persona.setdefault(t.process_id, []).append(t.id)
    for persona, ids in by_persona.items():
        removed += store.delete_turns(Scope(entity_id, persona, session_id), ids)
    return int(removed)


def _forget_persona(store: Any, scope: Scope) -> int:
    own = [m for m in store.list_memories(scope, include_superseded=True)
           if m.process_id == scope.process_id]
    return int(_delete_memories(store, scope.entity_id, own) + store.delete_turns(scope))


def _delete_memories(store: Any, entity_id: str, memories: list[Memory]) -> int:
    by_persona: dict[str | None, list[str]] = {}
    for m in memories:
        by_persona.setdefault(m.process_id, []).append(m.id)
    return sum(int(store.delete_memories(Scope(entity_id, persona), ids))
               for persona, ids in by_persona.items())


def forget_scope(
    store: Any, entity_id: str, *, process_id: str | None = None,
    session_id: str | None = None,
) -> int:
    """The store's own ``forget_scope`` when it has one, else the derived one."""
    check_grain(entity_id, process_id, session_id)
    if isinstance(store, SupportsForgetScope):
        return store.forget_scope(entity_id, process_id=process_id, session_id=session_id)
    return derive_forget_scope(store, entity_id, process_id=process_id, session_id=session_id)


async def aforget_scope(
    store: Any, entity_id: str, *, process_id: str | None = None,
    session_id: str | None = None,
) -> int:
    """:func:`forget_scope` for async code: the store's ``aforget_scope`` when it has one,
    else the sync one in a worker thread."""
    check_grain(entity_id, process_id, session_id)
    if isinstance(store, SupportsAsyncForgetScope):
        return int(await store.aforget_scope(
            entity_id, process_id=process_id, session_id=session_id))
    return await asyncio.to_thread(
        forget_scope, store, entity_id, process_id=process_id, session_id=session_id)
