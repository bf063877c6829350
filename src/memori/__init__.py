"""memori: long-term memory for LLM applications, stored in the database you already run."""

import logging as _logging

# First, before anything can load a dependency: switch dependencies' telemetry off.
from memori import telemetry as _telemetry  # noqa: F401  (its import sets the switches)
from memori.core import (
    Capability,
    FlushError,
    Hit,
    InvalidIdError,
    MemoriError,
    Memory,
    MemoryStore,
    NotFoundError,
    Scope,
    Turn,
)
from memori.facade import Memori

# a library's logger: silent unless the application configures logging
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "Capability",
    "FlushError",
    "Hit",
    "InvalidIdError",
    "Memori",
    "MemoriError",
    "Memory",
    "MemoryStore",
    "NotFoundError",
    "Scope",
    "Turn",
]
__version__ = "0.1.0"
"""The one place the version is written: the package metadata reads it (hatch, pyproject.toml)."""
