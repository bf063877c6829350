"""Who may see a cached row: small-int codes for ids and the scope rules over arrays.

The rules of ``Memory.visible_to`` and ``Turn.visible_to`` (core), applied to the
columns an in-process set keeps (see ``VectorSet`` and ``ItemSet``): memories of
the persona, of no persona, or shared (superseded ones only when asked); turns of
exactly the persona (None: none) and, when given, the session. The only masks of
the accelerator; every item it returns is re-checked with core's rules anyway.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from memori.core.models import Scope

NULL = -1
"""Code of a NULL process or session id."""

BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int32]
TimeArray = npt.NDArray[np.float64]


class Codes:
    """Small ints for the distinct ids of one column (NULL is -1)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def encode(self, value: str | None) -> int:
        if value is None:
            return NULL
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.codes)
        return code

    def lookup(self, value: str | None) -> int | None:
        """The code of ``value`` (None when no row ever had it)."""
        return NULL if value is None else self.codes.get(value)


def memory_audience(
    alive: BoolArray, process: CodeArray, shared: BoolArray, superseded: BoolArray,
    processes: Codes, process_id: str | None, include_superseded: bool,
) -> BoolArray:
    """Memories of the persona, of no persona, or shared (superseded left out unless asked)."""
    audience = (process == NULL) | shared
    code = processes.lookup(process_id)
    if process_id is not None and code is not None:
        audience |= process == code
    mask: BoolArray = alive & audience
    if not include_superseded:
        mask &= ~superseded
    return mask


def turn_audience(
    alive: BoolArray, process: CodeArray, session: CodeArray,
    processes: Codes, sessions: Codes, process_id: str | None, session_id: str | None,
) -> BoolArray:
    """Turns of exactly this persona (None: no persona) and, if given, this session."""
    code = processes.lookup(process_id)
    scode = sessions.lookup(session_id)
    if code is None or scode is None:
        return np.zeros(alive.shape[0], dtype=np.bool_)
    mask: BoolArray = alive & (process == code)
    if session_id is not None:
        mask &= session == scode
    return mask


class AudienceColumns:
    """The per-slot columns a set keeps for the scope rules and the tie-break (time,
    liveness, persona and session codes, shared, superseded), and the scope masks.

    A set calls ``_allocate_audience`` when it (re)allocates and says how many slots
    are in use (``_used``); ``processes`` / ``sessions`` hold the id codes.
    """

    processes: Codes
    sessions: Codes
    _created: TimeArray
    _alive: BoolArray
    _process: CodeArray
    _session: CodeArray
    _shared: BoolArray
    _superseded: BoolArray

    def _allocate_audience(self, capacity: int) -> None:
        self._created = np.zeros(capacity, dtype=np.float64)
        self._alive = np.zeros(capacity, dtype=np.bool_)
        self._process = np.full(capacity, NULL, dtype=np.int32)
        self._session = np.full(capacity, NULL, dtype=np.int32)
        self._shared = np.zeros(capacity, dtype=np.bool_)
        self._superseded = np.zeros(capacity, dtype=np.bool_)

    def _audience_columns(self) -> list[npt.NDArray[np.generic]]:
        return [self._created, self._alive, self._process, self._session, self._shared,
                self._superseded]

    def _used(self) -> int:
        raise NotImplementedError

    def scope_mask(self, turns: bool, scope: Scope, include_superseded: bool) -> BoolArray:
        """The rows the scope may see: turns (``turns``) or memories."""
        n = self._used()
        if turns:
            return turn_audience(self._alive[:n], self._process[:n], self._session[:n],
                                 self.processes, self.sessions, scope.process_id,
                                 scope.session_id)
        return memory_audience(self._alive[:n], self._process[:n], self._shared[:n],
                               self._superseded[:n], self.processes, scope.process_id,
                               include_superseded)
