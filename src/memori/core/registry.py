"""The plugin manager and the read-only registries of backends and components.

Plugins come from the entry-point group ``memori``; the built-in backends
register through it exactly as a third-party plugin does. Discovery imports
no driver: specs hold dotted paths that are imported only when used.

Environment:
- ``MEMORI_LOAD_PLUGINS``: comma-separated entry-point names to load (unset: all;
  empty: none).
- ``MEMORI_DISABLE_PLUGINS``: comma-separated entry-point names to skip.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pluggy

from memori.core import hookspecs
from memori.core.errors import BackendNotFoundError, ConfigurationError, MissingExtraError
from memori.core.forks import in_children
from memori.core.urls import redact_url, url_scheme


def load_dotted(
    path: str, extra: str | None = None, what: str | None = None, requires: tuple[str, ...] = ()
) -> Any:
    """Import ``"package.module:attribute"``; a missing driver names the extra to install.

    With an ``extra``, the modules in ``requires`` are looked for first (nothing is
    imported), so a driver that fails only when first used (SQLAlchemy's asyncio layer
    without greenlet) is named before the import; an ``ImportError`` of a module outside
    memori, raised directly or as the cause of another (SQLAlchemy raises its own
    ``ImportError`` from greenlet's), is answered with the extra too.
    """
    module_name, _, attr = path.partition(":")
    if extra:
        missing = missing_modules(requires)
        if missing:
            raise MissingExtraError(extra, _naming(what, extra, missing))
    try:
        module = importlib.import_module(module_name)
    except MissingExtraError:
        raise
    except ImportError as e:
        absent = _absent_module(e)
        if extra and absent is not None:
            raise MissingExtraError(extra, _naming(what, extra, [absent])) from e
        raise
    return getattr(module, attr) if attr else module


def missing_modules(names: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` that cannot be found (a top-level name imports nothing)."""
    return [name for name in names if not _findable(name)]


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing
        return False


def _absent_module(error: BaseException) -> str | None:
    """The top-level module whose absence caused ``error`` (following ``__cause__`` and
    ``__context__``), or None when it is none or part of memori itself."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            top = current.name.partition(".")[0]
            return None if top == "memori" else top
        current = current.__cause__ or current.__context__
    return None


def _naming(what: str | None, extra: str, missing: list[str]) -> str:
    """``what`` followed by the modules it misses, for ``MissingExtraError``'s message."""
    return f"{what or f'the {extra} backend'} ({', '.join(missing)} not installed)"


@dataclass(frozen=True)
class BackendSpec:
    """How to find and open a storage backend, without importing its driver.

    ``loader`` is ``"module:function"``; the function takes the URL or object
    plus keyword options and returns a ``MemoryStore``. ``object_types`` are
    qualified class names (``"pymongo.mongo_client.MongoClient"``) matched
    against the MRO of a connection object; ``accepts`` refines the match
    (e.g. a SQLAlchemy engine's dialect) using duck typing only.
    """

    name: str
    loader: str
    schemes: tuple[str, ...] = ()
    object_types: tuple[str, ...] = ()
    accepts: Callable[[Any], bool] | None = None
    extra: str | None = None
    description: str = ""
    requires: tuple[str, ...] = ()
    """Top-level modules the backend needs, checked without importing them."""

    def is_installed(self) -> bool:
        """Whether every module in ``requires`` can be found (imports nothing)."""
        return not missing_modules(self.requires)

    def install_command(self) -> str | None:
        """What to run to install this backend's extra (None: nothing to install)."""
        return f"pip install 'memori[{self.extra}]'" if self.extra else None

    def matches_url(self, url: str) -> bool:
        return url_scheme(url) in self.schemes

    def matches_object(self, obj: Any) -> bool:
        names = {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}
        if not names.intersection(self.object_types):
            return False
        return self.accepts is None or bool(self.accepts(obj))

    def load(self) -> Callable[..., Any]:
        loaded: Callable[..., Any] = load_dotted(
            self.loader, self.extra, f"the {self.name} backend", self.requires
        )
        return loaded


@dataclass(frozen=True)
class ComponentSpec:
    """An embedder, extractor, retriever or redactor: a name and a ``"module:factory"`` path."""

    name: str
    loader: str
    extra: str | None = None
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        what = f"the {self.name} component"
        loaded: Callable[..., Any] = load_dotted(self.loader, self.extra, what)
        return loaded


class _Registry:
    """A name -> spec table that refuses taken names and is read through a proxy."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}
        self.view: Mapping[str, Any] = MappingProxyType(self._items)

    def register(self, spec: Any) -> None:
        if spec.name in self._items and self._items[spec.name] != spec:
            raise ConfigurationError(f"{self.kind} {spec.name!r} is already registered")
        self._items[spec.name] = spec


class _SpecTableResolver:
    """The last-resort implementation of the firstresult hooks: scan registered specs."""

    def __init__(self, plugins: Plugins) -> None:
        self._plugins = plugins

    @hookspecs.hookimpl(trylast=True)
    def memori_backend_for_url(self, url: str) -> BackendSpec | None:
        return next((s for s in self._plugins.backends.values() if s.matches_url(url)), None)

    @hookspecs.hookimpl(trylast=True)
    def memori_backend_for_object(self, obj: Any) -> BackendSpec | None:
        return next((s for s in self._plugins.backends.values() if s.matches_object(obj)), None)


BUILTIN_PLUGINS: Mapping[str, str] = MappingProxyType({
    "sqlite": "memori.backends.sqlite.plugin",
    "postgres": "memori.backends.postgres.plugin",
    "mongo": "memori.backends.mongo.plugin",
    "qdrant": "memori.backends.qdrant.plugin",
    "memory": "memori.backends.memory",
    "embedders": "memori.embedders.plugin",
    "extractors": "memori.extractors.plugin",
    "retrievers": "memori.retrieval.plugin",
    "redactors": "memori.redaction.plugin",
})
"""memori's own entry points (as in pyproject.toml), by name. Registered from here when
the installed metadata lacks them (a bare checkout on ``PYTHONPATH``, a stale install),
as simonw/llm registers its default plugins; the modules import no driver."""


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


class Plugins:
    """One plugin manager and the registries filled from it."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._backends = _Registry("backend")
        self._embedders = _Registry("embedder")
        self._extractors = _Registry("extractor")
        self._retrievers = _Registry("retriever")
        self._redactors = _Registry("redactor")
        self.pm.register(_SpecTableResolver(self), name="memori-spec-table")
        if load_entry_points:
            self._load_entry_points()
        self._collect()

    @property
    def backends(self) -> Mapping[str, BackendSpec]:
        return self._backends.view

    @property
    def embedders(self) -> Mapping[str, ComponentSpec]:
        return self._embedders.view

    @property
    def extractors(self) -> Mapping[str, ComponentSpec]:
        return self._extractors.view

    @property
    def retrievers(self) -> Mapping[str, ComponentSpec]:
        return self._retrievers.view

    @property
    def redactors(self) -> Mapping[str, ComponentSpec]:
        return self._redactors.view

    def _load_entry_points(self) -> None:
        allow = _names_from_env("MEMORI_LOAD_PLUGINS")
        deny = _names_from_env("MEMORI_DISABLE_PLUGINS") or set()
        entry_points = importlib.metadata.entry_points(group=hookspecs.PROJECT)
        for ep in entry_points:
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as e:  # a broken plugin must not take memori down with it
                warnings.warn(
                    f"memori plugin {ep.name!r} failed to load: {type(e).__name__}: {e}",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            self.pm.register(plugin, name=ep.name)
        self._register_builtins({ep.name for ep in entry_points}, allow, deny)

    def _register_builtins(
        self, installed: set[str], allow: set[str] | None, deny: set[str]
    ) -> None:
        """The built-in plugins the metadata did not name (same allow and deny lists)."""
        for name, module_name in BUILTIN_PLUGINS.items():
            if name in installed or (allow is not None and name not in allow) or name in deny:
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as e:  # as for an entry point: warn, and go on without it
                warnings.warn(f"memori built-in plugin {name!r} failed to load: "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=3)
                continue
            if self.pm.get_plugin(name) is None and not self.pm.is_registered(module):
                self.pm.register(module, name=name)

    def _collect(self) -> None:
        hook = self.pm.hook
        hook.memori_register_backends(register=self._backends.register)
        hook.memori_register_embedders(register=self._embedders.register)
        hook.memori_register_extractors(register=self._extractors.register)
        hook.memori_register_retrievers(register=self._retrievers.register)
        hook.memori_register_redactors(register=self._redactors.register)

    def add_plugin(self, plugin: Any, name: str | None = None) -> None:
        """Register an in-process plugin object or module (tests, apps embedding a backend)."""
        self.pm.register(plugin, name=name)
        self._collect()

    def plugin_names(self) -> list[str]:
        return [n for n, _ in self.pm.list_name_plugin() if n != "memori-spec-table"]

    def backend_for_url(self, url: str) -> BackendSpec:
        spec = self.pm.hook.memori_backend_for_url(url=url)
        if spec is None:
            raise BackendNotFoundError(
                f"no installed backend handles URLs of scheme {url_scheme(url)!r} "
                f"({redact_url(url)}); {self.describe_backends()}" + _path_hint(url)
            )
        return spec  # type: ignore[no-any-return]

    def installed_backends(self) -> list[str]:
        """Registered backends whose modules are all present, by name."""
        return sorted(n for n, s in self.backends.items() if s.is_installed())

    def available_backends(self) -> dict[str, str]:
        """Registered backends whose extra is not installed: name -> install command."""
        return {n: s.install_command() or f"the {n} backend's dependencies"
                for n, s in sorted(self.backends.items()) if not s.is_installed()}

    def describe_backends(self) -> str:
        """``installed: ...`` and, when some extras are missing, ``available: ...``."""
        text = f"installed: {', '.join(self.installed_backends()) or 'none'}"
        available = self.available_backends()
        if available:
            text += "; available: " + ", ".join(f"{n} ({c})" for n, c in available.items())
        return text

    def backend_for_object(self, obj: Any) -> BackendSpec:
        spec = self.pm.hook.memori_backend_for_object(obj=obj)
        if spec is None:
            raise BackendNotFoundError(
                f"no installed backend accepts a {type(obj).__module__}.{type(obj).__qualname__}"
            )
        return spec  # type: ignore[no-any-return]


_lock = threading.Lock()
_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, created on first use."""
    global _plugins
    with _lock:
        if _plugins is None:
            _plugins = Plugins()
        return _plugins


def _after_fork_in_child() -> None:
    global _lock  # a child forked while another thread held it could never take it
    _lock = threading.Lock()


in_children(_after_fork_in_child)


def reset_plugins() -> None:
    """Forget the process-wide plugin manager (tests that change the environment)."""
    global _plugins
    with _lock:
        _plugins = None


def _path_hint(url: str) -> str:
    """For a file path or a ``file:`` URL, the SQLite URL the user most likely meant
    (nothing for other text, such as a keyword DSN, which may hold a password)."""
    scheme = url_scheme(url)
    if scheme == "file":
        path = url.split("://", 1)[1]
        if path.lower().startswith("localhost/"):  # file://localhost/p is file:///p
            path = path[len("localhost"):]
    elif not scheme and "://" not in url:
        path = url
    else:
        return ""
    if not path or any(c.isspace() or c in "=?@'\"" for c in path):
        return ""
    return f"; for a SQLite file write sqlite:///{path}"
