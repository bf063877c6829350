"""memori: long-term memory for LLM applications, stored in the database you already run."""

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
    Scope,
    Turn,
)
from memori.facade import Memori

__all__ = [
    "Capability",
    "FlushError",
    "Hit",
    "InvalidIdError",
    "Memori",
    "MemoriError",
    "Memory",
    "MemoryStore",
    "Scope",
    "Turn",
]
__version__ = "0.1.0"
