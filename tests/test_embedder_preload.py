"""Registering an LLM client starts loading the embedder's model in the background, so
the first call finds it loaded; register() itself does not wait for it, a call that
comes during the load does its reads meanwhile, and a fork during it waits for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import SupportsLoad
from memori.embedders import HashEmbedder
from memori.embedders.preload import preload
from memori.testing import OpenAIServer


class LoadingEmbedder(HashEmbedder):
    """The hash embedder with a model to load: ``load()`` blocks until released and
    notes the thread it ran on; ``failing``: it raises instead."""

    def __init__(self, failing: bool = False) -> None:
        super().__init__()
        self.failing = failing
        self.release = threading.Event()
        self.loaded = threading.Event()
        self.threads: list[str] = []

    def load(self) -> None:
        self.threads.append(threading.current_thread().name)
        if self.failing:
            raise RuntimeError("the model file is missing")
        self.release.wait(30)
        self.loaded.set()


def test_register_starts_the_load_beside_the_caller_once(tmp_path: Path) -> None:
    embedder = LoadingEmbedder()
    assert isinstance(embedder, SupportsLoad)
    with OpenAIServer() as server, \
            Memori(f"sqlite:///{tmp_path / 'p.db'}", embedder=embedder) as mem:
        mem.llm.register(server.client())  # returns while load() is still blocked
        mem.llm.register(server.client())  # a second client: no second load
        assert not embedder.loaded.is_set()
        embedder.release.set()
        assert embedder.loaded.wait(30)
        assert embedder.threads == ["memori-embedder-load"]


def test_a_load_that_fails_leaves_register_and_the_calls_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    embedder = LoadingEmbedder(failing=True)
    with OpenAIServer() as server, \
            Memori(f"sqlite:///{tmp_path / 'f.db'}", embedder=embedder) as mem, \
            caplog.at_level("DEBUG", logger="memori.embedders.preload"):
        client = mem.llm.register(server.client())
        mem.attribution(entity_id="ann")
        mem.remember("Ann's dog is called Pixel.")
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "What is my dog called?"}])
        assert "Pixel" in str(server.last_request("chat").body["messages"])
    assert "the model file is missing" in caplog.text


def test_nothing_to_load_starts_no_thread() -> None:
    assert preload(None) is None
    assert preload(HashEmbedder()) is None


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}  # the suite's MEMORI_HOME: its cache
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_local_model_is_loaded_before_the_first_call(tmp_path: Path) -> None:
    done = run_script(f"""
        import time
        from memori import Memori
        from memori.testing import OpenAIServer
        with OpenAIServer() as server, Memori("sqlite:///{tmp_path / 'l.db'}") as mem:
            client = mem.llm.register(server.client())
            assert mem.embedder.serving is None  # register() did not wait for it
            deadline = time.monotonic() + 120
            while mem.embedder.serving is None and time.monotonic() < deadline:
                time.sleep(0.01)  # no call made: loaded in the background
            print(mem.embedder.serving is not None)
            mem.attribution(entity_id="ana")
            mem.remember("I want to run a 5K in under 25 minutes.")
            client.chat.completions.create(
                model="m", messages=[{{"role": "user", "content": "What is my running goal?"}}])
            print("5K" in str(server.last_request("chat").body["messages"]))
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True"]


def test_a_script_that_registers_and_exits_at_once_ends_cleanly(tmp_path: Path) -> None:
    done = run_script(f"""
        import openai
        from memori import Memori
        mem = Memori("sqlite:///{tmp_path / 'x.db'}")
        mem.llm.register(openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9"))
        print("registered")
    """)  # no call, no close: the interpreter ends while the model may still load
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["registered"]
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("wait", [0.0, 0.05, 0.15])
def test_children_forked_while_the_model_loads_embed_on_their_own(
    tmp_path: Path, wait: float,
) -> None:
    """A pre-forking server registers, then forks its workers at once: a child forked
    while the parent's thread held the load (or waited for the int8 model) loads its
    own model instead of waiting for a thread it does not have."""
    done = run_script(f"""
        import json, multiprocessing, time
        from memori import Memori
        from memori.testing import OpenAIServer

        server = OpenAIServer().start()
        mem = Memori("sqlite:///{tmp_path / 'w.db'}")
        client = mem.llm.register(server.client())
        time.sleep({wait})  # fork while the load runs, or just after

        def task(i):
            mem.attribution(entity_id="ana", session_id=f"child-{{i}}")
            mem.remember(f"Task {{i}} was about the garden.")
            client.chat.completions.create(model="m", messages=[
                {{"role": "user", "content": f"What was task {{i}} about?"}}])
            return mem.flush(timeout=60), mem.embedder.serving

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                print(json.dumps(pool.map(task, range(2), chunksize=1)))
            found = [r for r in server.chat_requests() if "garden" in str(r.body)]
            print(len(found))
            mem.close()
            server.stop()
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    results, found = done.stdout.strip().splitlines()
    assert all(flushed and serving for flushed, serving in json.loads(results))
    assert int(found) == 2


def test_a_query_begun_while_the_model_loads_elsewhere_does_not_wait_for_it() -> None:
    """The first call comes while register()'s thread still loads the model: its
    embedding returns at once, the reads go on, and the vector is there once loaded."""
    from memori.embedders import LocalEmbedder

    embedder = LocalEmbedder()
    reference = LocalEmbedder().embed(["What is my running goal?"])[0]
    embedder._load_lock.acquire()  # as the loading thread holds it
    begun: list[Any] = []
    caller = threading.Thread(target=lambda: begun.append(
        embedder.embed_beside("What is my running goal?")))
    caller.start()
    caller.join(10)
    returned_at_once = not caller.is_alive()
    unloaded = embedder.serving is None
    embedder._load_lock.release()
    caller.join(120)
    assert returned_at_once and unloaded
    pending = begun[0]
    assert pending is not None
    vector = pending.result()  # waited for the lock, loaded, embedded
    # (either graph may serve, the shipped one or the derived int8 one: within 0.98)
    assert sum(a * b for a, b in zip(vector, reference, strict=True)) > 0.98
    assert embedder.serving is not None
