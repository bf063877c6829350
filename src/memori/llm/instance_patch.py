"""What every client patch keeps: the wrappers it set on one instance, and how to undo them.

SDK-neutral (no client import): the openai patch (:mod:`memori.llm.patching`) and the
anthropic one (:mod:`memori.llm.anthropic_patch`) subclass :class:`InstancePatch` and
add what they wrap. Only attributes of the instance and its resource objects are set,
never of a class; ``remove`` puts back what each replaced (or deletes the attribute
where there was none), leaving a wrapper someone else wrapped since in place, inert.
Copies made with ``copy()`` / ``with_options()`` are handed to ``on_copy`` while active.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from memori.llm.engine import MemoryEngine

CACHED_HELPERS = ("with_raw_response", "with_streaming_response")
"""Helper objects the SDKs cache on a resource, capturing its bound methods when built."""
COPY_METHODS = ("copy", "with_options")


class InstancePatch:
    """The wrappers installed on one client and what they replaced."""

    def __init__(
        self, client: Any, engine: MemoryEngine, on_copy: Callable[[Any], None]
    ) -> None:
        self._client = client
        self._engine = engine
        self._on_copy = on_copy
        self.active = False
        self._installed: list[tuple[Any, str, bool, Any, Any]] = []

    def is_active(self) -> bool:
        return self.active

    def remove(self) -> None:
        """Restore what was replaced; a wrapper someone else wrapped since stays, inert."""
        self.active = False
        for owner, attr, had_own, previous, wrapper in reversed(self._installed):
            if owner.__dict__.get(attr) is not wrapper:
                continue
            if had_own:
                setattr(owner, attr, previous)
            else:
                delattr(owner, attr)
        self._installed.clear()
        self._drop_cached_helpers()

    def _set(self, owner: Any, attr: str, wrapper: Any) -> None:
        had_own = attr in owner.__dict__
        self._installed.append((owner, attr, had_own, owner.__dict__.get(attr), wrapper))
        setattr(owner, attr, wrapper)

    def _wrap_copies(self) -> None:
        """Make the client's ``copy()`` / ``with_options()`` register what they make."""
        for name in COPY_METHODS:
            original = getattr(self._client, name, None)
            if callable(original):
                self._set(self._client, name, self._copying(original))

    def _copying(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def copy(*args: Any, **kwargs: Any) -> Any:
            made = original(*args, **kwargs)
            if self.active:
                self._on_copy(made)
            return made

        return copy

    def _drop_cached_helpers(self) -> None:
        """Drop the SDK's cached helpers (:data:`CACHED_HELPERS`) so they are rebuilt
        around the wrappers (or the originals): each SDK knows where they are held."""
        raise NotImplementedError
