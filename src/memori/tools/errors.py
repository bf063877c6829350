"""The errors a tool call raises: what the model (or its host) did wrong, in one line."""

from __future__ import annotations

from memori.core.errors import MemoriError


class ToolError(MemoriError, ValueError):
    """A tool call was refused: bad arguments, or nothing of that id in the scope.

    The message is meant for the model: it says what to change, never a traceback.
    """


class UnknownToolError(ToolError, LookupError):
    """No memory tool has that name."""
