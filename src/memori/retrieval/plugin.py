"""Registers the built-in retrievers."""

from __future__ import annotations

from typing import Any

from memori.core import hookimpl


@hookimpl
def memori_register_retrievers(register: Any) -> None:
    del register
