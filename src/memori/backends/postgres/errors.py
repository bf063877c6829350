"""Translation of psycopg and SQLAlchemy errors into memori's errors, passwords removed.

libpq may quote a connection string in its messages, so every message is
passed through ``scrub``: credentials it spells out and the store's own secrets
(password, ``?password=``, ``connect_args``) are masked. The
driver exception stays chained as ``__cause__`` (its SQL parameters are never
copied into the message).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from memori.core.errors import MemoriError, StoreError, StoreUnavailableError
from memori.core.redact import scrub

_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "53")
"""Connection exceptions, operator intervention (shutdown), insufficient resources."""


class ErrorTranslator:
    """Re-raises driver failures as ``StoreError`` / ``StoreUnavailableError`` / ``ValueError``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._secrets = secrets

    def clean(self, text: str) -> str:
        """``text`` with URL and DSN credentials, and this store's secrets, masked."""
        return scrub(text, self._secrets)

    def describe(self, error: BaseException) -> str:
        orig = getattr(error, "orig", None) or error
        message = str(orig).strip() or type(orig).__name__
        return self.clean(f"{type(orig).__name__}: {message}")

    @contextmanager
    def __call__(self) -> Iterator[None]:
        try:
            yield
        except MemoriError:
            raise
        except sa_exc.DBAPIError as e:
            raise self._translate(e) from e
        except sa_exc.TimeoutError as e:
            raise StoreUnavailableError(f"postgres store unavailable: {self.describe(e)}") from e
        except sa_exc.StatementError as e:
            if isinstance(e.orig, (TypeError, ValueError)):
                raise ValueError(f"cannot store value: {self.describe(e)}") from e
            raise StoreError(f"postgres store failed: {self.describe(e)}") from e
        except sa_exc.SQLAlchemyError as e:
            raise StoreError(f"postgres store failed: {self.describe(e)}") from e
        except OSError as e:
            raise StoreUnavailableError(f"postgres store unavailable: {self.describe(e)}") from e
        except Exception as e:
            if type(e).__module__.startswith("psycopg"):
                raise self._translate(e) from e
            raise

    def _translate(self, error: BaseException) -> Exception:
        orig = getattr(error, "orig", None) or error
        message = self.describe(error)
        sqlstate = str(getattr(orig, "sqlstate", None) or "")
        kind = type(orig).__name__
        if (
            (kind in ("OperationalError", "InterfaceError")
            and not sqlstate)
            or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
            or getattr(error, "connection_invalidated", False)
        ):
            return StoreUnavailableError(f"postgres store unavailable: {message}")
        if kind == "DataError" and not sqlstate:
            return ValueError(f"cannot store value: {message}")
        if sqlstate.startswith("22"):
            return ValueError(f"cannot store value: {message}")
        return StoreError(f"postgres store failed: {message}")
