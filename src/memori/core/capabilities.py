"""Named optional features a backend declares; the conformance suite switches on them."""

from __future__ import annotations

from memori.core.strenum import StrEnum


class Capability(StrEnum):
    """An optional feature of a store. Names describe features, never backends."""

    TEXT_SEARCH = "text_search"
    """Full-text relevance search over turns and memories."""
    NATIVE_TEXT_INDEX = "native_text_index"
    """Text search runs on the database's own text index (not a scan fallback)."""
    VECTOR_SEARCH = "vector_search"
    """Dense vector similarity search over turns and memories."""
    NATIVE_VECTOR_INDEX = "native_vector_index"
    """Vector search runs on an approximate index of the database (not an exact scan)."""
    HYBRID_FUSION = "hybrid_fusion"
    """The database fuses text and vector rankings itself."""
    ASYNC = "async"
    """The ``a*`` methods exist (possibly by running the sync ones in a thread)."""
    NATIVE_ASYNC = "native_async"
    """The ``a*`` methods use the driver's own async API, with no thread offload."""
    MULTI_PROCESS = "multi_process"
    """Several processes may open the same store at once."""
    ROW_LEVEL_SECURITY = "row_level_security"
    """The database itself refuses rows of other entities (defence in depth)."""
    MIGRATIONS = "migrations"
    """The schema is versioned and upgraded by explicit migrations."""
