"""The runnable examples, run as a user would (against the local OpenAI-compatible server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memori import Memori
from memori.testing.openai_server import OpenAIServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMORI_"))}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300,
        env={**clean, "MEMORI_HOME": str(tmp_path / "home"), **env},
    )


def test_quickstart_runs_offline_on_the_embedded_default(tmp_path: Path) -> None:
    out = run_example("quickstart.py", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ok: the coach remembered the goal" in out.stdout
    assert (tmp_path / "home" / "memori.db").exists()


def test_multi_persona_example_keeps_personas_apart(tmp_path: Path) -> None:
    out = run_example("multi_persona.py", tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok: personas stayed apart" in out.stdout


def test_async_streaming_example_records_each_stream_under_its_user(tmp_path: Path) -> None:
    out = run_example("async_streaming.py", tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("ok")


def test_web_handler_keeps_concurrent_tenants_apart(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    import json
    import threading
    import urllib.request
    from wsgiref.simple_server import make_server

    from openai import OpenAI

    sys.path.insert(0, str(EXAMPLES))
    try:
        import web_handler
    finally:
        sys.path.remove(str(EXAMPLES))
    client = OpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
    with Memori(sqlite_url, embedder="hash") as mem:
        app = web_handler.make_app(mem, client, "gpt-4o-mini")
        httpd = make_server("127.0.0.1", 0, app, server_class=web_handler.ThreadingWSGIServer,
                            handler_class=web_handler.QuietHandler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_port}/chat"

        def post(body: dict[str, str]) -> dict[str, str]:
            req = urllib.request.Request(base, data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(req, timeout=30) as resp:
                result: dict[str, str] = json.loads(resp.read())
                return result

        users = [f"tenant-{i}" for i in range(12)]
        sessions: dict[str, str] = {}

        def first(user: str) -> None:
            sessions[user] = post({"user": user, "message": f"My secret word is {user}-word."})[
                "session"]

        threads = [threading.Thread(target=first, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        mem.flush()
        openai_server.clear_requests()
        threads = [threading.Thread(target=post, args=(
            {"user": u, "message": "What is my secret word?", "session": sessions[u]},))
            for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        requests = openai_server.chat_requests()
        assert len(requests) == len(users)
        for req in requests:
            sent = json.dumps(req.body["messages"])
            owners = [u for u in users if f"{u}-word" in sent]
            assert len(owners) == 1, f"a request carried {owners}"
        import urllib.error

        with pytest.raises(urllib.error.HTTPError) as bad:
            post({"user": "", "message": "bad id"})
        assert bad.value.code == 400
        httpd.shutdown()
