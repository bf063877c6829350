"""Local embedders across ``os.fork()``: no child inherits a load half-way.

``register()`` loads the model on a thread of its own (``memori.embedders.preload``),
and a pre-forking server registers, then forks its workers at once. A child forked
while that thread held the embedder's load lock (and onnxruntime was building its
session) would inherit the lock held by a thread it does not have, and wait for it
forever. So before a fork each tracked embedder's load lock is taken: a load under
way ends first (``FORK_WAIT`` at most), and the child starts with the model loaded or
not loaded, never half-way. The child then gets fresh locks, and an embedder that was
serving the shipped graph while its parent's thread waited for the int8 model loads
again on first use (the parent's thread would have switched it; the child has none).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

FORK_WAIT = 30.0
"""Seconds a fork waits for a load under way; past that it goes on (the child then
replaces the lock it may have inherited held)."""


class Forkable(Protocol):
    def hold_for_fork(self, timeout: float) -> None: ...

    def after_fork(self, *, in_child: bool) -> None: ...


_tracked: weakref.WeakSet[Forkable] = weakref.WeakSet()


def track(embedder: Forkable) -> None:
    """Hold ``embedder`` across every later fork of this process."""
    _tracked.add(embedder)


def _before() -> None:
    for embedder in list(_tracked):
        embedder.hold_for_fork(FORK_WAIT)


def _after_in_parent() -> None:
    for embedder in list(_tracked):
        embedder.after_fork(in_child=False)


def _after_in_child() -> None:
    for embedder in list(_tracked):
        embedder.after_fork(in_child=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before, after_in_parent=_after_in_parent,
                        after_in_child=_after_in_child)
