"""Registers the ``jsonl://`` backend with memori (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl

SPEC = BackendSpec(
    name="jsonl",
    loader="memori_jsonl.store:open_store",
    schemes=("jsonl",),
    description="Example plugin: one JSON file per entity in a directory.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
