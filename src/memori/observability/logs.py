"""memori's logs by the library conventions, and what they may say.

Every module logs to ``logging.getLogger(__name__)``, under the ``memori`` logger,
which has a ``NullHandler``: nothing is shown unless the application configures
logging, or the operator sets ``MEMORI_LOG_LEVEL`` (then, if the application has
set up no handler at all, memori adds one that writes to stderr).

No log line carries message text (turns, memories, queries) at any level: errors
are logged by :func:`describe_error`, which gives the error class and only the
messages that cannot hold it, unless ``MEMORI_LOG_CONTENT=1`` (a debugging aid:
then the messages of every error are logged, and they may quote stored text).
"""

from __future__ import annotations

import logging
import os
import sys

from memori.core import ConfigurationError, FlushError, MemoriError
from memori.core.redact import RedactingFilter

LOGGER = "memori"
LEVEL_ENV = "MEMORI_LOG_LEVEL"
CONTENT_ENV = "MEMORI_LOG_CONTENT"
MAX_MESSAGE_CHARS = 200
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})


def logs_content() -> bool:
    """Whether ``MEMORI_LOG_CONTENT`` asks for error messages that may hold text."""
    return os.environ.get(CONTENT_ENV, "").strip().lower() in _TRUE


def describe_error(error: BaseException) -> str:
    """The error for a log line: its class, and its message when that cannot hold
    message text (memori's own errors but ``FlushError``, which quotes causes; OS
    errors: a path and a reason), or when ``MEMORI_LOG_CONTENT`` is set."""
    kind = type(error).__name__
    orig = getattr(error, "orig", None)  # a SQLAlchemy error: name the driver's too
    if isinstance(orig, BaseException):
        kind = f"{kind} ({type(orig).__name__})"
    if logs_content():
        return f"{kind}: {str(error)[:MAX_MESSAGE_CHARS]}"
    if isinstance(error, FlushError):
        cause = describe_reason(error.cause) if error.cause else "unknown"
        return (f"{kind}: {error.turns} turn(s) not stored or extracted (cause {cause}); "
                f"'memori retry' queues them again")
    if isinstance(error, MemoriError | OSError):
        return f"{kind}: {str(error)[:MAX_MESSAGE_CHARS]}"
    return kind


def describe_reason(reason: str) -> str:
    """A stored failure reason (``"ErrorClass: message"``) for a log line: the class only,
    unless ``MEMORI_LOG_CONTENT`` is set."""
    return reason if logs_content() else reason.partition(":")[0]


_handler: logging.Handler | None = None
_level_ours = False


def apply_log_settings() -> None:
    """Apply ``MEMORI_LOG_LEVEL`` to the ``memori`` logger unless the application set
    its level; add a stderr handler when nothing would show the lines. Checks
    ``MEMORI_LOG_CONTENT`` too. A bad value raises ``ConfigurationError`` naming it."""
    global _handler, _level_ours
    content = os.environ.get(CONTENT_ENV, "").strip().lower()
    if content and content not in _TRUE | {"0", "false", "no", "off"}:
        raise ConfigurationError(
            f"{CONTENT_ENV} must be 1, true, yes or on, or 0, false, no or off; "
            f"got {os.environ[CONTENT_ENV]!r}")
    value = os.environ.get(LEVEL_ENV, "").strip()
    if not value:
        return
    if value.upper() not in _LEVELS:
        raise ConfigurationError(f"{LEVEL_ENV} must be one of {', '.join(_LEVELS)}; "
                                 f"got {value!r}")
    logger = logging.getLogger(LOGGER)
    if logger.level == logging.NOTSET or _level_ours:  # a level the application set wins
        logger.setLevel(value.upper())
        _level_ours = True
    if _handler is None and not logging.getLogger().handlers and not any(
        not isinstance(h, logging.NullHandler) for h in logger.handlers
    ):
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                                "%(message)s"))
        _handler.addFilter(RedactingFilter())  # credentials masked, as in the CLI
        logger.addHandler(_handler)
