"""Which session a Responses call continues: the one where the response it names was recorded.

A request with ``previous_response_id`` (or ``conversation``) continues a
conversation the API holds, so its turns belong with that conversation's earlier
turns: the call runs in the session where the named response (or conversation)
was recorded, not in the context's current one. The session is found from the
``response_id`` / ``conversation_id`` metadata of recorded turns: first in an
in-process index filled as turns are queued, then among the latest stored turns of
the caller's own entity and persona. Another entity's turns are never looked at;
an id found nowhere leaves the call in the context's session. The index also
knows whether a response's reply was recorded whole (not ``partial``), which a
resumed stream needs to know.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from memori.core import Scope, Turn

Ref = tuple[str, str]
"""What a request continues: ``("response_id", id)`` or ``("conversation_id", id)``."""
_Key = tuple[str, str | None, str, str]
REF_FIELDS = ("response_id", "conversation_id")
UNKNOWN = object()
"""``cached`` found nothing in process: the store has to be asked."""


class ContinuationIndex:
    """Response and conversation ids -> session, per entity and persona; thread-safe.

    ``load(scope, limit)`` returns the latest ``limit`` stored turns of a scope with no
    session (the entity's persona). A miss is remembered for ``miss_ttl`` seconds, so a
    chain of responses made elsewhere does not read the store on every call.
    """

    def __init__(
        self, load: Callable[[Scope, int], list[Turn]], *,
        lookup_turns: int = 1000, max_entries: int = 4096, miss_ttl: float = 5.0,
    ) -> None:
        self._load = load
        self.lookup_turns = lookup_turns
        self.max_entries = max_entries
        self.miss_ttl = miss_ttl
        self._lock = threading.Lock()
        self._sessions: OrderedDict[_Key, tuple[str, bool]] = OrderedDict()
        self._misses: dict[_Key, float] = {}

    @staticmethod
    def _key(scope: Scope, ref: Ref) -> _Key:
        return (scope.entity_id, scope.process_id, ref[0], ref[1])

    def note(self, turns: Sequence[Turn]) -> None:
        """Index the ids that turns just queued carry."""
        with self._lock:
            for turn in turns:
                for name in REF_FIELDS:
                    value = turn.metadata.get(name)
                    if isinstance(value, str) and value:
                        key = (turn.entity_id, turn.process_id, name, value)
                        whole = not turn.metadata.get("partial") or self._whole(key)
                        self._put(key, turn.session_id, whole)
            self._evict()

    def cached(self, scope: Scope, ref: Ref) -> str | object | None:
        """The session if known in process, None if recently missed, else ``UNKNOWN``."""
        key = self._key(scope, ref)
        with self._lock:
            entry = self._sessions.get(key)
            if entry is not None:
                self._sessions.move_to_end(key)
                return entry[0]
            missed = self._misses.get(key)
            if missed is not None and time.monotonic() - missed < self.miss_ttl:
                return None
        return UNKNOWN

    def find(self, scope: Scope, ref: Ref) -> str | None:
        """The session the ref was recorded in, within the scope's entity and persona
        (may read the store: call off the event loop)."""
        cached = self.cached(scope, ref)
        if cached is not UNKNOWN:
            return cached if isinstance(cached, str) else None
        persona = Scope(scope.entity_id, scope.process_id)
        field, value = ref
        found = [t for t in self._load(persona, self.lookup_turns)
                 if t.metadata.get(field) == value]
        key = self._key(scope, ref)
        with self._lock:
            if not found:
                self._misses[key] = time.monotonic()
            else:
                whole = any(not t.metadata.get("partial") for t in found)
                self._put(key, found[-1].session_id, whole)
            self._evict()
        return found[-1].session_id if found else None

    def recorded_whole(self, scope: Scope, ref: Ref) -> bool:
        """Whether a reply carrying the ref was recorded whole (known after :meth:`find`)."""
        with self._lock:
            return self._whole(self._key(scope, ref))

    def _whole(self, key: _Key) -> bool:
        entry = self._sessions.get(key)
        return entry is not None and entry[1]

    def drop_entity(self, entity_id: str) -> None:
        """Forget every id of an entity (after ``mem.forget``)."""
        with self._lock:
            for key in [k for k in self._sessions if k[0] == entity_id]:
                del self._sessions[key]
            for key in [k for k in self._misses if k[0] == entity_id]:
                del self._misses[key]

    def _put(self, key: _Key, session: str, whole: bool) -> None:
        self._sessions[key] = (session, whole)
        self._sessions.move_to_end(key)
        self._misses.pop(key, None)

    def _evict(self) -> None:
        while len(self._sessions) > self.max_entries:
            self._sessions.popitem(last=False)
        if len(self._misses) > self.max_entries:
            now = time.monotonic()
            self._misses = {k: t for k, t in self._misses.items() if now - t < self.miss_ttl}
            if len(self._misses) > self.max_entries:
                self._misses.clear()
