"""Registers the built-in extractors."""

from __future__ import annotations

from typing import Any

from memori.core import hookimpl


@hookimpl
def memori_register_extractors(register: Any) -> None:
    del register
