"""Who may see a cached row: small-int codes for ids and the scope rules over arrays.

The rules are those of ``memori.backends.sql.filters``, applied to the columns an
in-process set keeps (see ``VectorSet`` and ``ItemSet``): memories of the persona,
of no persona, or shared (superseded ones only when asked); turns of exactly the
persona (None: none) and, when given, the session.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

NULL = -1
"""Code of a NULL process or session id."""

BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int32]


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
