"""The error hierarchy of memori: one module, small, translated at backend boundaries.

What causes each error and what to do about it: docs/troubleshooting.md.
"""

from __future__ import annotations


class MemoriError(Exception):
    """Base class of every error memori raises on purpose."""


class InvalidIdError(MemoriError, ValueError):
    """An entity, process or session id is not a valid id (raised before any query)."""


class NotFoundError(MemoriError, LookupError):
    """No memory with that id is visible to the scope (absent, or another entity's or
    persona's: the two are never told apart)."""


class ConfigurationError(MemoriError, ValueError):
    """The caller asked for something that cannot be set up as given."""


class MissingExtraError(MemoriError, ImportError):
    """A backend or component needs an optional dependency that is not installed.

    ``extra`` is the extra that brings it; the message ends with the command to run
    (``pip install 'memori[postgres]'``).
    """

    def __init__(self, extra: str, what: str | None = None) -> None:
        self.extra = extra
        target = what or f"the {extra} backend"
        super().__init__(f"{target} needs an optional dependency: pip install 'memori[{extra}]'")


class BackendNotFoundError(ConfigurationError):
    """No installed backend claims the URL or connection object."""


class StoreError(MemoriError):
    """The storage backend failed; the driver's exception is chained as ``__cause__``."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now (connection refused, closed, timed out)."""


class SchemaOutdatedError(StoreError):
    """The database schema is older than this version of memori and must be migrated."""

    def __init__(self, current: str | None, head: str, command: str) -> None:
        self.current = current
        self.head = head
        self.command = command
        super().__init__(
            f"database schema is at revision {current or 'none'}, memori needs {head}; "
            f"run: {command}"
        )


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer memori than this one."""


class DimensionMismatchError(ConfigurationError):
    """A vector's dimension differs from the store's configured dimension."""


class ClientAlreadyRegisteredError(MemoriError, RuntimeError):
    """An LLM client is already registered with another Memori instance."""


class FlushError(MemoriError):
    """``flush()`` cannot finish: turns could not be stored or extracted.

    ``turns`` counts the turns concerned; ``cause`` names the error class and message
    (never message text). Nothing is lost: unstored turns stay in the local journal
    and parked turns in the store, and ``Memori.retry()`` / ``memori retry`` re-queue them.
    """

    def __init__(self, message: str, *, turns: int = 0, cause: str | None = None) -> None:
        self.turns = turns
        self.cause = cause
        super().__init__(message)
