"""A process that forks after memori started (a multiprocessing pool, a pre-forking
server): each child remembers, recalls and records through the LLM path, and nothing is
lost or stuck."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

FORKED_POOL = """
    import json, multiprocessing, sys
    from openai import OpenAI
    from memori import Memori
    from memori.core import Scope
    from memori.testing import OpenAIServer

    server = OpenAIServer().start()
    mem = Memori(sys.argv[1], embedder="hash")
    client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    mem.llm.register(client)
    mem.attribution(entity_id="ana", session_id="before")
    mem.remember("I am allergic to peanuts.")  # the parent writes before it forks
    assert mem.flush(timeout=30)
    # and calls, so its reads (on a server's store) have started their threads; through
    # a client of its own: an SDK client that made requests shares its open connection
    # with the children (docs/troubleshooting.md)
    own = mem.llm.register(OpenAI(base_url=server.base_url, api_key="local", max_retries=0))
    own.chat.completions.create(model="m", messages=[
        {"role": "user", "content": "What do you know about me?"}])
    assert mem.flush(timeout=30)

    def task(i):
        mem.attribution(entity_id="ana", session_id=f"child-{i}")
        mem.remember(f"Task {i} was about the garden.")
        client.chat.completions.create(model="m", messages=[
            {"role": "user", "content": f"Am I allergic to peanuts? (task {i})"}])
        flushed = mem.flush(timeout=60)
        stats = mem.llm.stats
        return flushed, stats.read_failures, stats.record_failures

    if __name__ == "__main__":
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(task, range(4), chunksize=1)
        scope = Scope("ana")
        print(json.dumps({
            "results": results,
            "turns": sorted(t.content for t in mem.store.list_turns(scope) if t.role == "user"),
            "memories": sorted(m.content for m in mem.store.list_memories(scope)),
            "blocks": sum("peanuts" in str(r.body).split("</memori_context>")[0]
                          for r in server.chat_requests() if "(task" in str(r.body)),
        }))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mongo"])
def test_children_of_a_fork_remember_recall_and_record(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest,
) -> None:
    """On a server's store a call's reads run on reader threads (within ``read_timeout``):
    the parent's, idle at the fork, are not the children's (their reads were never taken,
    and every child call went without memory); and on PostgreSQL a child used its
    parent's pooled connections (one socket, two processes: replies mixed up)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'f.db'}"
    elif backend == "postgres":
        url = _fresh_database(request.getfixturevalue("pg_url"))
    else:
        url = _fresh_mongo_database(_mongo_url())
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED_POOL), url],
        capture_output=True, text=True, timeout=180, env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["results"] == [[True, 0, 0]] * 4  # every child flushed, no failure
    assert report["turns"] == [f"Am I allergic to peanuts? (task {i})" for i in range(4)] + [
        "What do you know about me?"]  # the parent's own call, before the fork
    assert {f"Task {i} was about the garden." for i in range(4)} | {
        "I am allergic to peanuts."} <= set(report["memories"])
    assert report["blocks"] == 4  # each child's call carried the parent's memory


def _call_in_child(call: Any, out: Any) -> None:
    call()
    out.put("done")


def _start_beside() -> str:
    from memori.embedders import beside

    result: str = beside.start(lambda: "ran").result()
    return result


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize(("module", "lock", "call"), [
    pytest.param("memori.core.models", "_clock_lock", "now", id="clock"),
    pytest.param("memori.core.registry", "_lock", "get_plugins", id="plugins"),
    pytest.param("memori.embedders.beside", "_lock", _start_beside, id="beside-worker"),
])
def test_a_child_forked_while_a_thread_held_a_module_lock_takes_it(
    module: str, lock: str, call: Any,
) -> None:
    """A lock held at the fork by a thread the child does not have is not waited for:
    the child's clock (every turn and memory takes a time), its plugin registry, the
    worker that runs the local model beside a call."""
    import importlib
    import multiprocessing
    import threading

    mod = importlib.import_module(module)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with getattr(mod, lock):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    target = getattr(mod, call) if isinstance(call, str) else call
    child = context.Process(target=_call_in_child, args=(target, out))
    try:
        child.start()
        child.join(20)
        hung = child.is_alive()
    finally:
        release.set()
        holder.join()
        if child.is_alive():
            child.kill()
            child.join()
    assert not hung, f"the child waited for {module}.{lock}"
    assert child.exitcode == 0 and out.get(timeout=5) == "done"


def _engine(store: Any) -> Any:
    """The store's own (sync) engine: SQLite's, or PostgreSQL's."""
    return store.engine if hasattr(store, "engine") else store._engines.sync


def _pool_in_child(mem: Any, out: Any) -> None:
    mem.attribution(entity_id="ana", session_id="child")
    mem.remember("Bees live on the child's roof.")
    out.put((id(_engine(mem.store).pool), [h.content for h in mem.recall("bees roof")][:1]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_forked_child_opens_connections_of_its_own(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest,
) -> None:
    """The parent's pooled connections stay the parent's (SQLite: its handles' locks
    and caches; PostgreSQL: its sockets), and still serve it after the child's writes."""
    import multiprocessing

    from memori import Memori
    from memori.core import Scope

    url = (f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite"
           else _fresh_database(request.getfixturevalue("pg_url")))
    with Memori(url, embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="ana", session_id="parent")
        mem.remember("The parent's note.")  # a pooled connection is open now
        parent_pool = id(_engine(mem.store).pool)
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        child = context.Process(target=_pool_in_child, args=(mem, out))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        child_pool, found = out.get(timeout=5)
        assert child_pool != parent_pool
        assert found == ["Bees live on the child's roof."]
        assert id(_engine(mem.store).pool) == parent_pool
        assert {m.content for m in mem.store.list_memories(Scope("ana"))} == {
            "The parent's note.", "Bees live on the child's roof."}


def _fresh_database(pg_url: str) -> str:
    """A new database on the test server (its own schema: no other test's rows)."""
    import uuid

    import sqlalchemy as sa

    database = f"memori_fork_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    return sa.engine.make_url(pg_url).set(database=database).render_as_string(
        hide_password=False)


def _mongo_url() -> str:
    from memori.testing.mongo_server import URL_ENV, shared_server

    if not os.environ.get(URL_ENV):
        pytest.importorskip("secantus", reason=f"pip install secantusdb, or set {URL_ENV}")
    return shared_server().url


def _fresh_mongo_database(url: str) -> str:
    """``url`` naming a new database (the URL's path), its options kept."""
    import uuid

    base, _, options = url.partition("?")
    server = "/".join(base.split("/")[:3])
    return f"{server}/memori_fork_{uuid.uuid4().hex[:10]}" + (f"?{options}" if options else "")


def test_a_memori_sent_to_another_process_says_what_to_do(tmp_path: Path) -> None:
    """multiprocessing's 'spawn' (the default on macOS and Windows) pickles what it sends:
    a Memori refuses with the fix, not with pickle's message about its connection pool."""
    import copy
    import pickle

    from memori import Memori

    with Memori(f"sqlite:///{tmp_path / 'p.db'}", embedder="hash") as mem:
        with pytest.raises(TypeError, match=r"make one in each process"):
            pickle.dumps(mem)
        with pytest.raises(TypeError, match=r"cannot be pickled or copied"):
            copy.copy(mem)
