"""``isinstance`` against a runtime-checkable protocol, remembered per class where it can be.

On Python 3.11 such a check looks up every member of the protocol on the object each
time: 10-20 us, and the LLM path asked seven of them per call (the store's optional
reads, the retriever's and the embedder's optional abilities), about 0.15-0.25 ms of
a call that adds 3 ms. A class whose own attributes hold every member of the protocol
as a callable (its methods) conforms whatever its instances hold, so that answer is
kept for the class; any other answer (a member missing from the class, found only on
an instance or through ``__getattr__``, a data member) is worked out again each time,
exactly as ``isinstance`` does.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeGuard, TypeVar

T = TypeVar("T")

_conforming: set[tuple[type, type]] = set()
_members: dict[type, frozenset[str]] = {}
_lock = threading.Lock()


def conforms(obj: object, protocol: type[T]) -> TypeGuard[T]:
    """``isinstance(obj, protocol)`` for a ``@runtime_checkable`` protocol."""
    cls = type(obj)
    if (cls, protocol) in _conforming:
        return True
    if not isinstance(obj, protocol):
        return False
    if all(callable(getattr(cls, name, None)) for name in members(protocol)):
        with _lock:
            _conforming.add((cls, protocol))
    return True


def members(protocol: type) -> frozenset[str]:
    """The public names a protocol declares (methods and annotated attributes), its
    protocol bases' included."""
    found = _members.get(protocol)
    if found is None:
        names: set[str] = set()
        for base in protocol.__mro__:
            if base in (object, Protocol, Generic):
                continue
            names.update(vars(base))
            names.update(getattr(base, "__annotations__", {}))
        found = frozenset(n for n in names if not n.startswith("_"))
        with _lock:
            _members[protocol] = found
    return found
