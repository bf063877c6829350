"""``StoreConformance``: every group of the suite in one base class a backend subclasses."""

from __future__ import annotations

from memori.conformance.adversarial_ids import AdversarialIdTests
from memori.conformance.async_api import AsyncApiTests
from memori.conformance.base import ConformanceBase
from memori.conformance.concurrency import ConcurrencyTests
from memori.conformance.crud_memories import MemoryCrudTests
from memori.conformance.crud_turns import TurnCrudTests
from memori.conformance.export_import import ExportImportTests
from memori.conformance.forget import ForgetTests
from memori.conformance.forget_grains import ForgetGrainTests
from memori.conformance.guard import GuardTests
from memori.conformance.lifecycle import LifecycleTests
from memori.conformance.maintenance import MaintenanceTests
from memori.conformance.outbox import OutboxTests
from memori.conformance.outbox_parked import OutboxParkedTests
from memori.conformance.pinned_expiry import PinnedExpiryTests
from memori.conformance.reconciliation import ReconciliationTests
from memori.conformance.search import SearchOrderingTests
from memori.conformance.search_hybrid import HybridSearchTests
from memori.conformance.search_text import CjkTextSearchTests, TextSearchTests
from memori.conformance.search_vector import VectorSearchTests
from memori.conformance.stateful import StatefulTests
from memori.conformance.visibility_async import AsyncVisibilityTests
from memori.conformance.visibility_async_limits import AsyncLimitVisibilityTests
from memori.conformance.visibility_limits import LimitVisibilityTests
from memori.conformance.visibility_memories import MemoryVisibilityTests
from memori.conformance.visibility_turns import TurnVisibilityTests


class StoreConformance(
    GuardTests,
    LifecycleTests,
    TurnCrudTests,
    MemoryCrudTests,
    ReconciliationTests,
    SearchOrderingTests,
    MemoryVisibilityTests,
    TurnVisibilityTests,
    AsyncVisibilityTests,
    LimitVisibilityTests,
    AsyncLimitVisibilityTests,
    AdversarialIdTests,
    ConcurrencyTests,
    ForgetTests,
    ForgetGrainTests,
    PinnedExpiryTests,
    ExportImportTests,
    OutboxTests,
    MaintenanceTests,
    OutboxParkedTests,
    StatefulTests,
    TextSearchTests,
    CjkTextSearchTests,
    VectorSearchTests,
    HybridSearchTests,
    AsyncApiTests,
    ConformanceBase,
):
    """The memori conformance suite. Subclass it as ``Test<Backend>`` and define ``make_store``.

    Required groups (lifecycle, CRUD, reconciliation, search ordering, outbox,
    export/import) run for every store; isolation groups (visibility, adversarial
    ids, concurrency, forget, the stateful test) run for every store and cannot
    be overridden or skipped; text, vector, hybrid and async groups run when the
    store declares the capability.
    """


StoreConformance._seal()
