"""Translate pymongo's exceptions into memori's, at the backend boundary.

Connection trouble becomes :class:`StoreUnavailableError` (callers may retry or
fail open), anything else the driver raises becomes :class:`StoreError`. The
driver's exception stays chained as ``__cause__``; credentials (and the known
secrets of the store's URL and options) are scrubbed from the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bson.errors import BSONError
from pymongo import errors as pm

from memori.core import StoreError, StoreUnavailableError
from memori.core.redact import scrub

UNAVAILABLE = (pm.ConnectionFailure, pm.ServerSelectionTimeoutError, pm.ExecutionTimeout,
               pm.WaitQueueTimeoutError)


def _message(action: str, error: BaseException, secrets: tuple[str, ...]) -> str:
    return scrub(f"mongo: {action} failed: {type(error).__name__}: {error}", secrets)


@contextmanager
def translated(action: str, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Run the body; re-raise driver errors as memori errors (``raise ... from e``)."""
    try:
        yield
    except UNAVAILABLE as e:
        raise StoreUnavailableError(_message(action, e, secrets)) from e
    except pm.InvalidOperation as e:  # e.g. the client was closed
        raise StoreUnavailableError(_message(action, e, secrets)) from e
    except (pm.PyMongoError, BSONError) as e:
        raise StoreError(_message(action, e, secrets)) from e
