"""What a process forked from this one must not inherit as it is.

A child of ``os.fork()`` has only the thread that forked: locks another thread held
stay held, pools count threads that are not there, and connections are shared with
the parent (one socket, two processes). Modules and objects name here what to reset
in a child; one at-fork hook runs it all, in the order it was named. Where there is
no ``os.fork`` (Windows), nothing is registered and nothing needs to be.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_resets: list[Callable[[], None]] = []
_objects: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()
_from_parent: list[Any] = []
"""In a child, what its parent opened: kept referenced, so that collecting it never
closes (or ends) a connection the parent still uses."""


def in_children(reset: Callable[[], None]) -> None:
    """Run ``reset()`` in every process forked from this one from now on (module state:
    fresh locks, no pool of the parent's threads)."""
    _resets.append(reset)


def reset_in_children(obj: T, reset: Callable[[T], None]) -> None:
    """Run ``reset(obj)`` in every process forked from this one while ``obj`` lives
    (``obj`` is held weakly)."""
    _objects[obj] = reset


def keep_from_parent(obj: Any) -> None:
    """In a child: keep the parent's ``obj`` (a pool, a client) from being collected."""
    _from_parent.append(obj)


def _after_fork_in_child() -> None:
    for reset in _resets:
        reset()
    for obj, reset_obj in list(_objects.items()):
        reset_obj(obj)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
