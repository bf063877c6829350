"""Registers ``memory://``: the in-memory reference store (tests, demos; nothing persists).

``memory://`` is a private database; ``memory://name`` is shared by every store
opened with that name in this process.
"""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl

SPEC = BackendSpec(
    name="memory",
    loader="memori.conformance.reference:open_store",
    schemes=("memory",),
    description="In-process reference store (nothing persists): tests and demos.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
