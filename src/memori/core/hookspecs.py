"""The plugin hooks of memori (pluggy, entry-point group ``memori``).

Each ``memori_register_*`` hook receives a ``register`` callback; an
implementation may accept fewer arguments than the spec, so specs can grow.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "memori"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def memori_register_backends(register: Any) -> None:
    """Register storage backends: ``register(BackendSpec(...))``."""


@hookspec(firstresult=True)
def memori_backend_for_url(url: str) -> Any:
    """Return the ``BackendSpec`` that owns ``url``, or None to let others decide."""


@hookspec(firstresult=True)
def memori_backend_for_object(obj: Any) -> Any:
    """Return the ``BackendSpec`` that owns a connection object, or None."""


@hookspec
def memori_register_embedders(register: Any) -> None:
    """Register embedders: ``register(ComponentSpec(name, loader))``."""


@hookspec
def memori_register_extractors(register: Any) -> None:
    """Register extractors: ``register(ComponentSpec(name, loader))``."""


@hookspec
def memori_register_retrievers(register: Any) -> None:
    """Register retrievers: ``register(ComponentSpec(name, loader))``."""


@hookspec
def memori_register_redactors(register: Any) -> None:
    """Register redactors: ``register(ComponentSpec(name, loader))``."""
