"""Translation of driver and SQLAlchemy errors into memori's error hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from memori.core.errors import MemoriError, StoreError, StoreUnavailableError
from memori.core.redact import redact_text

_UNAVAILABLE = ("database is locked", "database is busy", "unable to open", "disk i/o error",
                "closed database", "cannot operate on a closed")


def _describe(error: BaseException) -> str:
    """The driver's own message (never the SQL parameters, which may hold user text)."""
    orig = getattr(error, "orig", None) or error
    return redact_text(f"{type(orig).__name__}: {orig}")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise driver failures as ``StoreError`` (or ``StoreUnavailableError``), chained."""
    try:
        yield
    except MemoriError:
        raise
    except sa_exc.DBAPIError as e:
        message = _describe(e)
        if isinstance(e, sa_exc.OperationalError) and any(
            s in message.lower() for s in _UNAVAILABLE
        ):
            raise StoreUnavailableError(f"sqlite store unavailable: {message}") from e
        raise StoreError(f"sqlite store failed: {message}") from e
    except sa_exc.StatementError as e:
        if isinstance(e.orig, (TypeError, ValueError)):
            raise ValueError(f"cannot store value: {_describe(e)}") from e
        raise StoreError(f"sqlite store failed: {_describe(e)}") from e
    except sa_exc.SQLAlchemyError as e:
        raise StoreError(f"sqlite store failed: {_describe(e)}") from e
