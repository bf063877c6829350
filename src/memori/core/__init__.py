"""The tiny core of memori: models, protocols, hooks, the plugin registry and errors.

Imports pluggy and the standard library only, never a database driver.
"""

from memori.core.capabilities import Capability
from memori.core.errors import (
    BackendNotFoundError,
    ClientAlreadyRegisteredError,
    ConfigurationError,
    DimensionMismatchError,
    FlushError,
    InvalidIdError,
    MemoriError,
    MissingExtraError,
    SchemaOutdatedError,
    SchemaTooNewError,
    StoreError,
    StoreUnavailableError,
)
from memori.core.hookspecs import hookimpl
from memori.core.ids import check_id, check_optional_id
from memori.core.models import (
    MEMORY_PATCH_FIELDS,
    ExtractState,
    Hit,
    Memory,
    MemoryKind,
    Scope,
    Turn,
)
from memori.core.plan_store import Plan, PlanStore, Work, adrive, drive
from memori.core.protocols import (
    AsyncExtractor,
    AsyncMemoryStore,
    Embedder,
    Extractor,
    MemoryStore,
    Record,
    Redactor,
    Retriever,
    StorePrimitives,
    SupportsAdminVacuum,
    SupportsAsyncEmbed,
    SupportsAsyncOutbox,
    SupportsAsyncRetrieve,
    SupportsGilFree,
    SupportsRawCount,
    SupportsRecentTurns,
    recent_turns,
)
from memori.core.query_terms import query_terms
from memori.core.registry import BackendSpec, ComponentSpec, Plugins, get_plugins
from memori.core.store_base import StoreBase, stored_count

__all__ = [
    "AsyncExtractor",
    "AsyncMemoryStore",
    "BackendNotFoundError",
    "BackendSpec",
    "Capability",
    "ClientAlreadyRegisteredError",
    "ComponentSpec",
    "ConfigurationError",
    "DimensionMismatchError",
    "Embedder",
    "ExtractState",
    "Extractor",
    "FlushError",
    "Hit",
    "InvalidIdError",
    "MEMORY_PATCH_FIELDS",
    "MemoriError",
    "Memory",
    "MemoryKind",
    "MemoryStore",
    "MissingExtraError",
    "Plan",
    "PlanStore",
    "Plugins",
    "Record",
    "Redactor",
    "Retriever",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "Scope",
    "StoreBase",
    "StoreError",
    "StorePrimitives",
    "StoreUnavailableError",
    "SupportsAdminVacuum",
    "SupportsAsyncEmbed",
    "SupportsAsyncOutbox",
    "SupportsAsyncRetrieve",
    "SupportsGilFree",
    "SupportsRawCount",
    "SupportsRecentTurns",
    "Turn",
    "Work",
    "adrive",
    "check_id",
    "check_optional_id",
    "drive",
    "get_plugins",
    "hookimpl",
    "query_terms",
    "recent_turns",
    "stored_count",
]
