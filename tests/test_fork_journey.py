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
                          for r in server.chat_requests()),
        }))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_children_of_a_fork_remember_recall_and_record(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED_POOL), f"sqlite:///{tmp_path / 'f.db'}"],
        capture_output=True, text=True, timeout=180, env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["results"] == [[True, 0, 0]] * 4  # every child flushed, no failure
    assert report["turns"] == [f"Am I allergic to peanuts? (task {i})" for i in range(4)]
    assert {f"Task {i} was about the garden." for i in range(4)} | {
        "I am allergic to peanuts."} <= set(report["memories"])
    assert report["blocks"] == 4  # each child's call carried the parent's memory


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
