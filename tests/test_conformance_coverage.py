"""Every store method memori calls is exercised by the shipped conformance suite.

The callers (the facade, retrieval, the LLM path, the pipeline, the CLI, and
``memori.core.recent_turns`` which the LLM path and the retriever read history
with) are scanned for ``store.<method>(`` calls and method references passed on
(``to_thread(store.outbox_pending, ...)``); each method must be called by at least
one module of ``memori.conformance`` (the reference store does not count). Optional
methods are asked for with ``isinstance(store, Supports...)``, never probed with
``getattr``/``hasattr``.
"""

from __future__ import annotations

import re
from pathlib import Path

import memori
from memori.core import (
    AsyncMemoryStore,
    MemoryStore,
    SupportsAdminVacuum,
    SupportsAsyncOutbox,
    SupportsRawCount,
    SupportsRecentTurns,
)

SRC = Path(memori.__file__).resolve().parent
CALLERS = ("facade.py", "retrieval", "llm", "pipeline", "cli", "core/protocols.py")
NOT_TESTS = frozenset({"reference.py", "__init__.py"})
"""Conformance modules that implement or export rather than test."""

_USED = re.compile(r"\b_?store\s*\.\s*([a-z]\w*)\s*[(,)]")
_PROBED = re.compile(r"\b(?:get|has)attr\(\s*[\w.]*store\s*,\s*[\"']([a-z]\w*)[\"']")
_NOT_METHODS = frozenset({"capabilities", "name", "vector_dim"})
OPTIONAL = (SupportsAdminVacuum, SupportsAsyncOutbox, SupportsRawCount, SupportsRecentTurns)
"""The declared optional store abilities (typed protocols)."""


def _sources(*roots: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for root in roots:
        path = SRC / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            found[str(file.relative_to(SRC))] = file.read_text(encoding="utf-8")
    return found


def called_store_methods() -> dict[str, set[str]]:
    """Store method -> the caller modules that use it."""
    used: dict[str, set[str]] = {}
    for name, text in _sources(*CALLERS).items():
        for method in {*_USED.findall(text), *optional_store_methods(text)} - _NOT_METHODS:
            used.setdefault(method, set()).add(name)
    return used


def optional_store_methods(text: str) -> set[str]:
    """Methods a caller probes for (``getattr(store, "...")``): a store may lack them."""
    return set(_PROBED.findall(text))


def conformance_sources() -> str:
    return "\n".join(
        text for name, text in _sources("conformance").items()
        if Path(name).name not in NOT_TESTS
    )


def is_exercised(method: str, source: str) -> bool:
    """Called (``.method(``) or probed and then called (``getattr(..., "method")``)."""
    return re.search(rf"\.{method}\(|(?:get|has)attr\([^)]*[\"']{method}[\"']", source) is not None


def test_the_scan_finds_the_store_calls_of_every_layer() -> None:
    used = called_store_methods()
    # one method per caller layer, so a scan that stops matching fails here, not silently
    assert {"list_memories", "search_turns", "recent_turns", "alist_turns",
            "aoutbox_pending", "outbox_mark", "admin_stats", "append_turns"} <= set(used)
    known = {*dir(MemoryStore), *dir(AsyncMemoryStore), *(m for p in OPTIONAL for m in dir(p))}
    assert set(used) <= known, (
        f"not store methods: {sorted(set(used) - known)}: the scan picked up something else"
    )


def test_no_caller_probes_a_store_with_getattr() -> None:
    """Every optional method is declared by a ``Supports*`` protocol and asked for with
    ``isinstance``: a ``getattr(store, "...")`` probe is an undeclared contract."""
    probes = {name: sorted(optional_store_methods(text))
              for name, text in _sources(*CALLERS).items() if optional_store_methods(text)}
    assert not probes, f"getattr/hasattr probes of store methods: {probes}"


def test_every_store_method_memori_calls_has_a_conformance_test() -> None:
    source = conformance_sources()
    uncovered = {
        method: sorted(callers) for method, callers in called_store_methods().items()
        if not is_exercised(method, source)
    }
    assert not uncovered, (
        "store methods memori calls but no conformance test exercises: "
        + "; ".join(f"{m} (called in {', '.join(c)})" for m, c in sorted(uncovered.items()))
    )


def test_an_uncalled_method_is_reported() -> None:
    assert not is_exercised("recent_turns", "store.list_turns(scope)\nrecent = 1")
    assert is_exercised("recent_turns", 'own = getattr(store, "recent_turns", None)')
    assert is_exercised("alist_turns", "await a.alist_turns(scope, limit=3)")
