"""Every plugin hook is documented, has a test through a real plugin, and discovery stays light.

As in datasette: ``test_every_hook_is_documented`` reads the hook table of
``docs/plugins.md``; ``test_every_hook_has_a_test`` fails naming any hook without
a ``test_hook_<hook>`` test in this module. Each of those registers a small
plugin object with the process-wide plugin manager (or, for the retriever, an
installed distribution found through its entry point) and shows the component
it registers chosen and used end to end.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from memori import Memori
from memori.cli.admin_commands import cmd_backends
from memori.conformance.reference import open_store as open_reference_store
from memori.core import (
    BackendSpec,
    ComponentSpec,
    ConfigurationError,
    Hit,
    Memory,
    MemoryStore,
    Plugins,
    Scope,
    Turn,
    get_plugins,
    hookimpl,
    hookspecs,
)
from memori.core.registry import reset_plugins
from memori.embedders import HashEmbedder
from memori.retrieval import HybridRetriever
from memori.retrieval.resolve import resolve_retriever

REPO = Path(__file__).resolve().parents[1]
HERE = __name__
HOOKS = sorted(name for name, f in vars(hookspecs).items() if hasattr(f, "memori_spec"))
HEAVY = ("onnxruntime", "numpy", "sqlalchemy", "psycopg", "pymongo", "qdrant_client",
         "openai", "tokenizers")


@pytest.fixture
def plugins() -> Iterator[Plugins]:
    """The process-wide plugin manager, fresh, and forgotten again afterwards."""
    reset_plugins()
    try:
        yield get_plugins()
    finally:
        reset_plugins()


def _plugin(name: str, plugins: Plugins, **hooks: Any) -> None:
    """Register an object whose attributes are ``hookimpl`` functions."""
    plugins.add_plugin(SimpleNamespace(**{k: hookimpl(v) for k, v in hooks.items()}), name=name)


# the meta-tests


def test_hooks_are_found() -> None:
    assert len(HOOKS) >= 7 and "memori_register_retrievers" in HOOKS


def _documented_hooks() -> dict[str, tuple[list[str], list[str]]]:
    """``docs/plugins.md``'s hook table: name -> (parameters, the other cells)."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*`(memori_\w+)\(([^)]*)\)`\s*\|(.*)\|\s*$", text, re.M)
    return {name: ([p.strip() for p in params.split(",") if p.strip()],
                   [c.strip() for c in cells.split("|")]) for name, params, cells in rows}


def test_every_hook_is_documented() -> None:
    documented = _documented_hooks()
    assert not set(HOOKS) - set(documented), "hooks missing from the table in docs/plugins.md"
    assert not set(documented) - set(HOOKS), "docs/plugins.md documents hooks that do not exist"
    for hook in HOOKS:
        params, cells = documented[hook]
        assert params == list(inspect.signature(getattr(hookspecs, hook)).parameters), hook
        assert all(cells) and len(cells[0].split()) >= 3, f"{hook}: no description in its row"


def test_every_hook_has_a_test() -> None:
    tests = [name for name, obj in globals().items()
             if name.startswith("test_hook_") and callable(obj)]
    missing = [hook for hook in HOOKS if not any(
        t == f"test_hook_{hook}" or t.startswith(f"test_hook_{hook}__") for t in tests)]
    assert not missing, f"hooks without a test_hook_<hook>[__<what>] test here: {missing}"


@pytest.fixture(scope="module")
def discovery_imports() -> dict[str, list[str]]:
    code = textwrap.dedent(f"""
        import json, sys
        heavy = {HEAVY!r}
        def loaded():
            return sorted(h for h in heavy
                          if h in sys.modules or any(m.startswith(h + ".") for m in sys.modules))
        import memori
        after_import = loaded()
        plugins = memori.core.get_plugins()
        listed = [(s.name, s.loader, s.description) for registry in (
            plugins.backends, plugins.embedders, plugins.extractors, plugins.retrievers,
            plugins.redactors) for s in registry.values()]
        installed = [s.is_installed() for s in plugins.backends.values()]
        assert listed and installed
        print(json.dumps({{"import memori": after_import, "get_plugins": loaded()}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result




@pytest.mark.parametrize("module", HEAVY)
def test_plugin_discovery_imports_no_heavy_module(
    discovery_imports: dict[str, list[str]], module: str
) -> None:
    assert module not in discovery_imports["import memori"]
    assert module not in discovery_imports["get_plugins"]


# components the test plugins register (loaded by dotted path, like any plugin's)


def open_meta_store(target: Any, *, vector_dim: int | None = None, **_: Any) -> MemoryStore:
    """A backend loader: the in-memory reference store, remembering what it was opened on."""
    store = open_reference_store(None, vector_dim=vector_dim)
    store.opened_on = target  # type: ignore[attr-defined]
    return store


class MetaConnection:
    """A connection object only a ``memori_backend_for_object`` plugin knows."""


class MetaEmbedder:
    def __init__(self, dim: int = 16) -> None:
        self.name = f"meta-{dim}"
        self.dim = dim
        self.calls: list[list[str]] = []
        self._hash = HashEmbedder(dim)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return self._hash.embed(texts)


def create_meta_embedder(arg: str | None = None, **options: Any) -> MetaEmbedder:
    return MetaEmbedder(int(arg), **options) if arg else MetaEmbedder(**options)


class MetaExtractor:
    name = "meta-extract"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        return [Memory(entity_id=t.entity_id, process_id=t.process_id, session_id=t.session_id,
                       content=f"meta saw: {t.content}", source_turn_ids=(t.id,))
                for t in turns if t.role == "user"]


class MetaRetriever:
    """Every visible memory, newest first, each scored 1; records the queries it answered."""

    def __init__(self, embedder: Any = None, label: str = "meta") -> None:
        self.embedder = embedder
        self.label = label
        self.queries: list[str] = []

    def retrieve(self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
                 token_budget: int | None = None, include_history: bool = False) -> list[Hit]:
        self.queries.append(query)
        memories = store.list_memories(scope, include_superseded=include_history)
        return [Hit(m, 1.0, {self.label: 1.0}) for m in reversed(memories)][:limit]


class PlainRetriever(MetaRetriever):
    """A retriever whose factory takes no embedder."""

    def __init__(self) -> None:
        super().__init__(label="plain")


def not_a_retriever() -> object:
    return object()


class MetaRedactor:
    name = "meta-redact"

    def redact(self, text: str) -> str:
        return text.replace("swordfish", "[meta]")


def _memori(target: Any = "memory://", **options: Any) -> Memori:
    options.setdefault("embedder", "hash")
    return Memori(target, durability="memory", **options)


# one test (at least) per hook, through a real plugin


def test_hook_memori_register_backends__a_scheme_opens_the_plugins_store(
    plugins: Plugins,
) -> None:
    spec = BackendSpec("meta-store", f"{HERE}:open_meta_store", schemes=("metastore",),
                       object_types=(f"{HERE}.MetaConnection",))
    _plugin("meta-backends", plugins, memori_register_backends=lambda register: register(spec))
    assert plugins.backends["meta-store"] is spec
    with _memori("metastore://somewhere") as mem:
        assert mem.store.opened_on == "metastore://somewhere"  # type: ignore[attr-defined]
        mem.attribution(entity_id="alice")
        mem.remember("I keep bees on the roof")
        assert [h.content for h in mem.recall("bees")] == ["I keep bees on the roof"]
    connection = MetaConnection()
    with _memori(connection) as mem:  # by object type, through the spec table
        assert mem.store.opened_on is connection  # type: ignore[attr-defined]


DYNAMIC = BackendSpec("meta-dynamic", f"{HERE}:open_meta_store")
"""No schemes, no object types: only the firstresult hooks below find it."""


def test_hook_memori_backend_for_url__a_plugin_decides_before_the_schemes(
    plugins: Plugins,
) -> None:
    def memori_backend_for_url(url: str) -> BackendSpec | None:
        return DYNAMIC if url.startswith(("dyn+", "memory://claimed")) else None

    _plugin("meta-url", plugins, memori_backend_for_url=memori_backend_for_url)
    with _memori("dyn+anything://host/db") as mem:
        assert mem.store.opened_on == "dyn+anything://host/db"  # type: ignore[attr-defined]
        mem.attribution(entity_id="alice")
        mem.remember("Goal: a sub-25 5K by June")
        assert [h.content for h in mem.recall("running goal")] == ["Goal: a sub-25 5K by June"]
    assert plugins.backend_for_url("memory://claimed") is DYNAMIC  # first result wins
    assert plugins.backend_for_url("memory://other").name == "memory"  # None: others decide


def test_hook_memori_backend_for_object__a_plugin_claims_a_connection_object(
    plugins: Plugins,
) -> None:
    class Client:
        pass

    def memori_backend_for_object(obj: Any) -> BackendSpec | None:
        return DYNAMIC if isinstance(obj, Client) else None

    _plugin("meta-object", plugins, memori_backend_for_object=memori_backend_for_object)
    client = Client()
    with _memori(client) as mem:
        assert mem.store.opened_on is client  # type: ignore[attr-defined]
        mem.attribution(entity_id="alice")
        mem.remember("I prefer tea to coffee")
        assert [h.content for h in mem.recall("tea")] == ["I prefer tea to coffee"]
    with pytest.raises(ConfigurationError):
        plugins.backend_for_object(object())


def test_hook_memori_register_embedders__a_named_embedder_embeds_memories_and_queries(
    plugins: Plugins,
) -> None:
    spec = ComponentSpec("meta-embed", f"{HERE}:create_meta_embedder")
    _plugin("meta-embedders", plugins, memori_register_embedders=lambda register: register(spec))
    with _memori(embedder="meta-embed:24") as mem:
        embedder = mem.embedder
        assert isinstance(embedder, MetaEmbedder) and embedder.dim == 24
        assert mem.store.vector_dim == 24
        mem.attribution(entity_id="alice")
        stored = mem.remember("I keep bees on the roof")
        assert stored.embedding is not None and len(stored.embedding) == 24
        hits = mem.recall("bees")
        assert [h.content for h in hits] == ["I keep bees on the roof"]
        assert hits[0].signals.get("memory_vector", 0) > 0
        assert ["bees"] in embedder.calls  # the query went through the plugin's embedder


def test_hook_memori_register_extractors__a_named_extractor_turns_turns_into_memories(
    plugins: Plugins,
) -> None:
    spec = ComponentSpec("meta-extract", f"{HERE}:MetaExtractor")
    _plugin("meta-extractors", plugins, memori_register_extractors=lambda register: register(spec))
    with _memori(extractor="meta-extract") as mem:
        mem.attribution(entity_id="alice")
        session = mem.scope().session_id
        assert session is not None
        mem.record([Turn("alice", session, "user", "I keep bees"),
                    Turn("alice", session, "assistant", "How many hives?")])
        assert mem.flush(timeout=30)
        assert [m.content for m in mem.memories()] == ["meta saw: I keep bees"]


def test_hook_memori_register_retrievers__a_named_retriever_answers_recall(
    plugins: Plugins,
) -> None:
    specs = [ComponentSpec("meta-retriever", f"{HERE}:MetaRetriever",
                           options={"label": "from-options"}),
             ComponentSpec("plain", f"{HERE}:PlainRetriever")]
    _plugin("meta-retrievers", plugins,
            memori_register_retrievers=lambda register: [register(s) for s in specs])
    assert set(plugins.retrievers) == {"hybrid", "meta-retriever", "plain"}
    with _memori(retriever="meta-retriever") as mem:
        retriever = mem.retriever
        assert isinstance(retriever, MetaRetriever)
        assert retriever.embedder is mem.embedder is not None  # built with the Memori's embedder
        mem.attribution(entity_id="alice")
        mem.remember("I keep bees")
        mem.remember("Goal: a sub-25 5K by June")
        hits = mem.recall("anything at all")
        assert [h.content for h in hits] == ["Goal: a sub-25 5K by June", "I keep bees"]
        assert hits[0].signals == {"from-options": 1.0}
        assert retriever.queries == ["anything at all"]
    with _memori(retriever=" plain ") as mem:  # a factory that takes no embedder
        assert isinstance(mem.retriever, PlainRetriever) and mem.retriever.embedder is None
        mem.attribution(entity_id="alice")
        mem.remember("I keep bees")
        assert [h.signals for h in mem.recall("bees")] == [{"plain": 1.0}]


def test_hook_memori_register_retrievers__an_installed_entry_point_is_chosen_by_name(
    tmp_path: Path,
) -> None:
    """A distribution on ``sys.path`` whose entry point registers a retriever; the
    ``MEMORI_LOAD_PLUGINS`` / ``MEMORI_DISABLE_PLUGINS`` lists decide whether it loads."""
    (tmp_path / "memori_meta_plugin.py").write_text(textwrap.dedent("""
        from memori.core import ComponentSpec, Hit, hookimpl

        class NewestFirst:
            def __init__(self, embedder=None):
                self.embedder = embedder

            def retrieve(self, store, scope, query, *, limit=10, token_budget=None,
                         include_history=False):
                memories = store.list_memories(scope)
                return [Hit(m, 1.0, {"newest-first": 1.0}) for m in reversed(memories)][:limit]

        @hookimpl
        def memori_register_retrievers(register):
            register(ComponentSpec("newest-first", "memori_meta_plugin:NewestFirst"))
    """))
    dist = tmp_path / "memori_meta_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memori-meta-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[memori]\nmeta = memori_meta_plugin\n")
    script = textwrap.dedent("""
        import json
        from memori import Memori
        from memori.core import ConfigurationError, get_plugins

        try:
            with Memori("memory://", embedder=None, extractor=None,
                        retriever="newest-first", durability="memory") as mem:
                mem.attribution(entity_id="alice")
                mem.remember("I keep bees")
                mem.remember("I prefer tea")
                hits = [(h.content, dict(h.signals)) for h in mem.recall("what do I do?")]
                result = {"retriever": type(mem.retriever).__name__, "hits": hits}
        except ConfigurationError as e:
            result = {"error": str(e)}
        result["plugins"] = sorted(get_plugins().plugin_names())
        print(json.dumps(result))
    """)

    def run(**env: str) -> dict[str, Any]:
        path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": path, **env}, check=True)
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    chosen = run(MEMORI_LOAD_PLUGINS="memory,meta")
    assert chosen["plugins"] == ["memory", "meta"]
    assert chosen["retriever"] == "NewestFirst"
    assert chosen["hits"] == [["I prefer tea", {"newest-first": 1.0}],
                              ["I keep bees", {"newest-first": 1.0}]]
    assert "meta" in run()["plugins"]  # unset: every entry point loads
    disabled = run(MEMORI_DISABLE_PLUGINS="meta")
    assert "meta" not in disabled["plugins"]
    assert disabled["error"] == ("unknown retriever 'newest-first'; "
                                 "registered names: hybrid")


def test_hook_memori_register_redactors__a_named_redactor_rewrites_before_storage(
    plugins: Plugins,
) -> None:
    spec = ComponentSpec("meta-redact", f"{HERE}:MetaRedactor")
    _plugin("meta-redactors", plugins, memori_register_redactors=lambda register: register(spec))
    with _memori(redactor="meta-redact") as mem:
        assert isinstance(mem.redactor, MetaRedactor)
        mem.attribution(entity_id="alice")
        mem.remember("the vault password is swordfish")
        session = mem.scope().session_id
        assert session is not None
        mem.record([Turn("alice", session, "user", "swordfish, remember it")])
        assert mem.flush(timeout=30)
        stored = [m.content for m in mem.memories()]
        assert "the vault password is [meta]" in stored
        assert [t.content for t in mem.history()] == ["[meta], remember it"]
        assert "swordfish" not in json.dumps(stored)


# resolve_retriever: None, objects and names


def test_no_retriever_is_the_hybrid_one_on_the_facades_embedder() -> None:
    with _memori() as mem:
        assert isinstance(mem.retriever, HybridRetriever)
        assert mem.retriever.embedder is mem.embedder is not None


def test_the_builtin_retriever_is_registered_and_chosen_by_name() -> None:
    with _memori(retriever="hybrid") as mem:
        assert isinstance(mem.retriever, HybridRetriever)
        assert mem.retriever.embedder is mem.embedder is not None
        mem.attribution(entity_id="alice")
        mem.remember("I keep bees on the roof")
        assert [h.content for h in mem.recall("bees")] == ["I keep bees on the roof"]


def test_a_retriever_object_is_used_as_given() -> None:
    mine = MetaRetriever()
    assert resolve_retriever(mine, embedder=HashEmbedder()) is mine
    assert mine.embedder is None


def test_unknown_names_and_wrong_objects_are_configuration_errors(plugins: Plugins) -> None:
    spec = ComponentSpec("broken", f"{HERE}:not_a_retriever")
    _plugin("broken-retrievers", plugins,
            memori_register_retrievers=lambda register: register(spec))
    with pytest.raises(ConfigurationError,
                       match=r"unknown retriever 'bm25'; registered names: broken, hybrid$"):
        resolve_retriever("bm25")
    with pytest.raises(ConfigurationError, match=r"'broken' built a object, which has no retr"):
        resolve_retriever("broken")
    with pytest.raises(ConfigurationError, match="retriever must be a name or have retrieve"):
        resolve_retriever(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown retriever"):
        _memori(retriever="bm25")


def test_memori_backends_json_lists_every_kind_of_component(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cmd_backends(argparse.Namespace(json=True))
    listed = json.loads(capsys.readouterr().out)
    assert "hybrid" in listed["retrievers"] and "secrets" in listed["redactors"]
    assert "hash" in listed["embedders"] and "offline" in listed["extractors"]
