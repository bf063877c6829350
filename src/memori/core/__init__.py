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
    NotFoundError,
    SchemaOutdatedError,
    SchemaTooNewError,
    StoreError,
    StoreUnavailableError,
)
from memori.core.expiry import SupportsSweepExpired, asweep_expired, live_hits, sweep_expired
from memori.core.forget_scope import SupportsForgetScope, aforget_scope, forget_scope
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
from memori.core.pinned import SupportsListPinned, list_pinned
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
from memori.core.store_base import StoreBase

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
    "NotFoundError",
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
    "SupportsForgetScope",
    "SupportsGilFree",
    "SupportsListPinned",
    "SupportsRawCount",
    "SupportsRecentTurns",
    "SupportsSweepExpired",
    "Turn",
    "Work",
    "adrive",
    "aforget_scope",
    "asweep_expired",
    "check_id",
    "check_optional_id",
    "drive",
    "forget_scope",
    "get_plugins",
    "hookimpl",
    "list_pinned",
    "live_hits",
    "query_terms",
    "recent_turns",
    "sweep_expired",
]
