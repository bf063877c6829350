"""Exit codes of the ``memori`` command."""

from __future__ import annotations

OK = 0
FAILURE = 1
"""The store or the model failed (driver error, outdated schema...)."""
USAGE = 2
"""Bad arguments or input (argparse uses 2 as well)."""
NOT_FOUND = 3
"""Nothing matched (no such backend, no memories for the query)."""
UNHEALTHY = 4
"""``doctor`` found a problem (outdated schema, missing extension...)."""
ABORTED = 5
"""The user declined a confirmation."""
UNAVAILABLE = 6
"""The store cannot be reached (connection refused, timed out, server down)."""


class CLIError(Exception):
    """An error the CLI reports in one line with its exit code."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code
