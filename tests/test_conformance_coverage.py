"""Every store method memori calls is exercised by the shipped conformance suite.

Every module of memori except the backends, the conformance suite and the testing
helpers is a caller: the facade and its management mixin, retrieval, the LLM path,
the pipeline, the CLI, the UI, the tools, MCP, and ``memori.core``, whose helper
functions (``sweep_expired``, ``forget_scope``, ``list_pinned``, ``recent_turns``,
``shared_reads``, ``reads_locally`` and their async twins) call the store for the rest.
Callers are scanned for ``store.<method>(`` calls and method references passed on
(``to_thread(store.outbox_pending, ...)``); each method must be called by at least
one module of ``memori.conformance`` (the reference store does not count), under
its own name (an async twin by its ``a`` name), or through the core helper of the
same name that hands it to the store (``forget_scope(store, ...)`` calls
``store.forget_scope`` when the store has one). Optional methods are asked for with
``isinstance(store, Supports...)``, never probed with ``getattr``/``hasattr``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import memori
from memori.core import (
    AsyncMemoryStore,
    MemoryStore,
    Retriever,
    SupportsAdminVacuum,
    SupportsAsyncForgetScope,
    SupportsAsyncOutbox,
    SupportsAsyncSweepExpired,
    SupportsEntityCounts,
    SupportsForgetScope,
    SupportsListPinned,
    SupportsLocalReads,
    SupportsRawCount,
    SupportsRecentTurns,
    SupportsSharedReads,
    SupportsSweepExpired,
)

SRC = Path(memori.__file__).resolve().parent
NOT_CALLERS = ("backends", "conformance", "testing")
"""Packages that implement or test stores rather than call them."""
NOT_TESTS = frozenset({"reference.py", "__init__.py"})
"""Conformance modules that implement or export rather than test."""

_USED = re.compile(r"\b_?store\s*\.\s*([a-z]\w*)\s*[(,)]")
_PROBED = re.compile(
    r"\b(?:get|has)attr\(\s*[\w.]*?(store|retriever)\s*,\s*[\"']([a-z]\w*)[\"']")
_NOT_METHODS = frozenset({"capabilities", "name", "vector_dim"})
"""Declared attributes, not methods."""
OPTIONAL = (SupportsAdminVacuum, SupportsAsyncForgetScope, SupportsAsyncOutbox,
            SupportsAsyncSweepExpired, SupportsEntityCounts, SupportsForgetScope,
            SupportsListPinned,
            SupportsLocalReads, SupportsRawCount, SupportsRecentTurns, SupportsSharedReads,
            SupportsSweepExpired)
"""The declared optional store abilities (typed protocols)."""
REQUIRED = {"store": {*dir(MemoryStore)} - {*dir(object)},
            "retriever": {*dir(Retriever)} - {*dir(object)}}
"""What a ``getattr`` may read without declaring anything: the required contract's
own members (checking that an object is a store or a retriever at all)."""


def caller_sources() -> dict[str, str]:
    """Every module of memori that calls stores: all but backends, conformance, testing."""
    return {
        str(file.relative_to(SRC)): file.read_text(encoding="utf-8")
        for file in sorted(SRC.rglob("*.py"))
        if file.relative_to(SRC).parts[0] not in NOT_CALLERS
    }


def called_store_methods(sources: Mapping[str, str]) -> dict[str, set[str]]:
    """Store method -> the caller modules that use it."""
    used: dict[str, set[str]] = {}
    for name, text in sources.items():
        for method in {*_USED.findall(text), *probed_store_methods(text)} - _NOT_METHODS:
            used.setdefault(method, set()).add(name)
    return used


def probed_store_methods(text: str) -> set[str]:
    """Store methods a caller probes for (``getattr(store, "...")``)."""
    return {name for kind, name in _PROBED.findall(text) if kind == "store"}


def undeclared_probes(text: str) -> set[str]:
    """``getattr``/``hasattr`` reads of a store or retriever member its required
    protocol does not declare (an optional ability asked for by name)."""
    return {f"{kind}.{name}" for kind, name in _PROBED.findall(text)
            if name not in REQUIRED[kind] | _NOT_METHODS}


def core_dispatchers() -> set[str]:
    """The ``memori.core`` helpers that hand a call to the store's method of the same
    name when it has one (``def forget_scope(store, ...)`` calling
    ``store.forget_scope(...)``): calling the helper exercises that method."""
    found: set[str] = set()
    for file in sorted((SRC / "core").glob("*.py")):
        for node in ast.parse(file.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not node.args.args or node.args.args[0].arg != "store":
                continue
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and isinstance(call.func.value, ast.Name)
                        and call.func.value.id == "store" and call.func.attr == node.name):
                    found.add(node.name)
    return found


def conformance_sources() -> str:
    return "\n".join(
        text for name, text in _sources_under("conformance").items()
        if Path(name).name not in NOT_TESTS
    )


def _sources_under(root: str) -> dict[str, str]:
    return {str(f.relative_to(SRC)): f.read_text(encoding="utf-8")
            for f in sorted((SRC / root).rglob("*.py"))}


def is_exercised(method: str, source: str, dispatchers: frozenset[str] = frozenset()) -> bool:
    """Called as a method (``.method(``), or through the core helper of that name that
    calls it on the store (``forget_scope(store, ...)``). A probe (``getattr(store,
    "method")``) alone does not count: the name must be called."""
    if re.search(rf"\.{method}\(", source):
        return True
    return method in dispatchers and re.search(
        rf"(?<![\w.]){method}\(", _without_definitions(source)) is not None


def _without_definitions(source: str) -> str:
    return re.sub(r"\bdef\s+\w+\(", "def _(", source)


def uncovered_methods(sources: Mapping[str, str], conformance: str,
                      dispatchers: frozenset[str]) -> dict[str, list[str]]:
    """Store method the callers use that no conformance module exercises -> callers."""
    return {
        method: sorted(callers)
        for method, callers in called_store_methods(sources).items()
        if not is_exercised(method, conformance, dispatchers)
    }


def test_the_scan_finds_the_store_calls_of_every_layer() -> None:
    used = called_store_methods(caller_sources())
    # one method per caller layer, so a scan that stops matching fails here, not silently
    layers = {
        "list_memories": "facade.py", "search_turns": "retrieval/hybrid.py",
        "recent_turns": "core/protocols.py", "alist_turns": "retrieval/hybrid.py",
        "aoutbox_pending": "pipeline/async_worker.py", "outbox_mark": "pipeline/worker.py",
        "admin_stats": "cli/data_commands.py", "append_turns": "pipeline/recorder.py",
        "delete_memories": "management.py", "forget": "management.py",
        "get_memory": "management.py", "update_memory": "management.py",
        "sweep_expired": "core/expiry.py", "asweep_expired": "core/expiry.py",
        "forget_scope": "core/forget_scope.py", "aforget_scope": "core/forget_scope.py",
        "list_pinned": "core/pinned.py", "delete_turns": "core/forget_scope.py",
        "scan": "ui/data.py", "outbox_parked": "ui/views_pipeline.py",
    }
    missing = {m: c for m, c in layers.items() if c not in used.get(m, set())}
    assert not missing, f"the scan no longer finds these calls: {missing}"
    assert "scan" in used and "tools/runner.py" in used["scan"]
    known = {*dir(MemoryStore), *dir(AsyncMemoryStore), *(m for p in OPTIONAL for m in dir(p))}
    assert set(used) <= known, (
        f"not store methods: {sorted(set(used) - known)}: the scan picked up something else"
    )


def test_the_core_helpers_that_hand_calls_to_the_store_are_found() -> None:
    assert core_dispatchers() == {"sweep_expired", "asweep_expired", "forget_scope",
                                  "aforget_scope", "list_pinned", "recent_turns",
                                  "shared_reads", "reads_locally", "entity_counts"}


def test_no_caller_probes_a_store_with_getattr() -> None:
    """Every optional method is declared by a ``Supports*`` protocol and asked for with
    ``isinstance``: a ``getattr(store, "...")`` probe is an undeclared contract (so is
    one of a retriever, e.g. for its ``min_relevance``)."""
    probes = {name: sorted(undeclared_probes(text))
              for name, text in caller_sources().items() if undeclared_probes(text)}
    assert not probes, f"getattr/hasattr probes of undeclared members: {probes}"


def test_every_store_method_memori_calls_has_a_conformance_test() -> None:
    uncovered = uncovered_methods(caller_sources(), conformance_sources(),
                                  frozenset(core_dispatchers()))
    assert not uncovered, (
        "store methods memori calls but no conformance test exercises: "
        + "; ".join(f"{m} (called in {', '.join(c)})" for m, c in sorted(uncovered.items()))
    )


def test_an_uncalled_method_is_reported() -> None:
    assert not is_exercised("recent_turns", "store.list_turns(scope)\nrecent = 1")
    assert not is_exercised("recent_turns", 'own = getattr(store, "recent_turns", None)')
    assert is_exercised("alist_turns", "await a.alist_turns(scope, limit=3)")
    # the sync name does not cover its async twin, nor the reverse
    assert not is_exercised("aforget", "store.forget(e)")
    assert not is_exercised("forget", "await store.aforget(e)")
    # a helper call counts only for a core helper that hands the call to the store
    helpers = frozenset({"forget_scope"})
    assert is_exercised("forget_scope", "forget_scope(store, e, process_id=p)", helpers)
    assert not is_exercised("forget_scope", "def forget_scope(store): ...", helpers)
    assert not is_exercised("admin_stats", "admin_stats(store)", helpers)


def test_the_check_fails_for_a_caller_of_an_untested_method() -> None:
    """The meta-test can fail: a caller that calls a method no conformance module does
    is reported, with the caller named."""
    caller = {"fake/caller.py": "def run(store):\n    return store.admin_export_all()\n"
                                "def go(store):\n    store.list_turns(scope)\n"}
    conformance = "def test_it(store):\n    store.list_turns(scope)\n"
    assert uncovered_methods(caller, conformance, frozenset()) == {
        "admin_export_all": ["fake/caller.py"]}
    assert uncovered_methods(caller, conformance + "store.admin_export_all()\n",
                             frozenset()) == {}


def test_an_undeclared_probe_is_reported() -> None:
    assert undeclared_probes('f = getattr(mem.retriever, "min_relevance", None)') == {
        "retriever.min_relevance"}
    assert undeclared_probes('n = getattr(self.store, "asweep_expired", None)') == {
        "store.asweep_expired"}
    assert undeclared_probes('ok = callable(getattr(retriever, "retrieve", None))') == set()
