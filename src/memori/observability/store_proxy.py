"""A thin traced proxy around a store: one span per store call, the backend untouched.

:func:`instrument` builds, once per store class, a subclass of
:class:`InstrumentedStore` that defines every public method and attribute of that
class (and of the instance), so ``isinstance(proxy, SupportsRecentTurns)`` and the
other capability checks answer exactly as for the store itself (protocol checks
look at the class, not at ``__getattr__``). Each method opens a span through the
observer's ``store_op`` and calls the store; async methods are awaited inside it.
Anything else (private attributes, attributes set later) is forwarded.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol


class StoreSpans(Protocol):
    """What the proxy asks of its observer."""

    def store_op(self, store: Any, operation: str) -> Any: ...


class InstrumentedStore:
    """Base of the proxies :func:`instrument` builds (``inner`` is the real store)."""

    __slots__ = ("inner", "observer")

    def __init__(self, inner: Any, observer: Any) -> None:
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "observer", observer)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "inner"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.inner, name, value)

    def __repr__(self) -> str:
        return repr(self.inner)


def _sync(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: InstrumentedStore, *args: Any, **kwargs: Any) -> Any:
        with self.observer.store_op(self.inner, name):
            return getattr(self.inner, name)(*args, **kwargs)

    return call


def _async(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def call(self: InstrumentedStore, *args: Any, **kwargs: Any) -> Any:
        with self.observer.store_op(self.inner, name):
            return await getattr(self.inner, name)(*args, **kwargs)

    return call


def _forward(name: str) -> property:
    return property(lambda self: getattr(self.inner, name),
                    lambda self, value: setattr(self.inner, name, value))


_CLASSES: dict[tuple[type, frozenset[str]], type[InstrumentedStore]] = {}


def _proxy_class(store: Any) -> type[InstrumentedStore]:
    cls = type(store)
    own = frozenset(n for n in getattr(store, "__dict__", {}) if not n.startswith("_"))
    key = (cls, own)
    made = _CLASSES.get(key)
    if made is not None:
        return made
    namespace: dict[str, Any] = {"__slots__": (), "__module__": __name__}
    for name in {*dir(cls), *own}:
        if name.startswith("_") or name in ("inner", "observer"):
            continue
        member = inspect.getattr_static(store, name, None)
        if name not in own and inspect.isfunction(member):
            wrap = _async if inspect.iscoroutinefunction(member) else _sync
            namespace[name] = wrap(name, member)
        else:
            namespace[name] = _forward(name)
    made = type(f"Instrumented{cls.__name__}", (InstrumentedStore,), namespace)
    _CLASSES[key] = made
    return made


def instrument(store: Any, observer: StoreSpans) -> Any:
    """``store`` behind a proxy whose every method call is a span of ``observer``."""
    if isinstance(store, InstrumentedStore):
        return store
    return _proxy_class(store)(store, observer)


def inner_store(store: Any) -> Any:
    """The real store behind a proxy (``store`` itself otherwise)."""
    return store.inner if isinstance(store, InstrumentedStore) else store
