"""``memori memories ...`` and ``memori forget`` by grain, run as the real console script;
exit codes, ``--url`` before or after the subcommand, no tracebacks for user errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MEMORI = shutil.which("memori", path=str(Path(sys.executable).parent)) or "memori"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MEMORI_URL"}
    return subprocess.run([MEMORI, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def memori(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return run(*args, "--embedder", "hash", "--url", url)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_an_edit_made_with_the_cli_is_what_another_process_recalls_and_injects(url: str) -> None:
    made = memori("remember", "--entity", "alice", "--persona", "coach", "Lives in Berlin",
                  url=url)
    assert made.returncode == 0, made.stderr
    memory_id = made.stdout.strip()
    edited = memori("memories", "edit", memory_id, "--entity", "alice", "--persona", "coach",
                    "--text", "Lives in Lisbon", "--json", url=url)
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["content"] == "Lives in Lisbon"
    script = textwrap.dedent(f"""
        from memori import Memori
        from memori.testing import OpenAIServer
        with OpenAIServer() as server, Memori({url!r}, embedder="hash", extractor=None) as mem:
            hits = mem.recall("Lisbon", entity_id="alice", process_id="coach", limit=1)
            print(hits[0].content if hits else "")
            client = mem.llm.register(server.client())
            mem.attribution(entity_id="alice", process_id="coach")
            client.chat.completions.create(
                model="m", messages=[{{"role": "user", "content": "Where do I live, Lisbon?"}}])
            sent = " ".join(str(m["content"]) for m in server.last_request("chat").messages)
            print("Lives in Lisbon" in sent, "Berlin" in sent)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    recalled, injected = out.stdout.strip().splitlines()
    assert recalled == "Lives in Lisbon"
    assert injected == "True False"  # the next registered call injects the edited text


def test_list_show_history_delete_with_json_and_exit_codes(url: str) -> None:
    memory_id = memori("remember", "--entity", "alice", "--kind", "goal", "sub-25 5K",
                       url=url).stdout.strip()
    memori("remember", "--entity", "alice", "a note", url=url)
    memori("remember", "--entity", "bob", "bob's note", url=url)
    listed = memori("memories", "list", "--entity", "alice", "--kind", "goal", "--json",
                    url=url)
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in json.loads(listed.stdout)] == [memory_id]
    table = memori("memories", "list", "--entity", "alice", url=url)
    assert table.returncode == 0 and "a note" in table.stdout.splitlines()[1]  # newest first
    none = memori("memories", "list", "--entity", "alice", "--contains", "absent", url=url)
    assert none.returncode == 3 and none.stdout == ""
    shown = memori("memories", "show", memory_id, "--entity", "alice", "--json", url=url)
    assert shown.returncode == 0 and json.loads(shown.stdout)["content"] == "sub-25 5K"
    history = memori("memories", "history", memory_id, "--entity", "alice", "--json", url=url)
    assert [m["id"] for m in json.loads(history.stdout)] == [memory_id]
    for action in ("show", "history", "delete"):  # bob never sees alice's memory
        other = memori("memories", action, memory_id, "--entity", "bob", url=url)
        assert other.returncode == 3, (action, other.stderr)
        assert "Traceback" not in other.stderr
    edit = memori("memories", "edit", memory_id, "--entity", "bob", "--text", "x", url=url)
    assert edit.returncode == 3 and "no memory" in edit.stderr
    gone = memori("memories", "delete", memory_id, "--entity", "alice", "--json", url=url)
    assert gone.returncode == 0 and json.loads(gone.stdout) == {"id": memory_id,
                                                                "deleted": True}
    assert memori("memories", "show", memory_id, "--entity", "alice", url=url).returncode == 3


def test_forget_by_persona_session_and_memory(url: str) -> None:
    coach = memori("remember", "--entity", "alice", "--persona", "coach", "coach note",
                   url=url).stdout.strip()
    memori("remember", "--entity", "alice", "open note", url=url)
    refused = memori("forget", "--entity", "alice", "--persona", "coach", url=url)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    out = memori("forget", "--entity", "alice", "--persona", "coach", "--yes", "--json",
                 url=url)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["removed"] == 1 and report["process_id"] == "coach"
    assert report["remaining"] == 1
    left = memori("memories", "list", "--entity", "alice", "--json", url=url)
    assert [m["content"] for m in json.loads(left.stdout)] == ["open note"]
    missing = memori("forget", "--entity", "alice", "--memory", coach, "--yes", url=url)
    assert missing.returncode == 3
    session = memori("forget", "--entity", "alice", "--session", "s-1", "--yes", url=url)
    assert session.returncode == 0 and "removed 0" in session.stdout


def test_url_before_or_after_the_subcommand_and_version(url: str) -> None:
    before = run("--url", url, "remember", "--entity", "e", "--embedder", "hash", "hello")
    assert before.returncode == 0, before.stderr
    after = run("memories", "list", "--entity", "e", "--embedder", "hash", "--url", url)
    assert after.returncode == 0 and "hello" in after.stdout
    nested = run("--url", url, "--json", "memories", "list", "--entity", "e",
                 "--embedder", "hash")
    assert nested.returncode == 0 and json.loads(nested.stdout)[0]["content"] == "hello"
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("memori ")


def test_user_errors_exit_with_their_code_and_no_traceback(url: str, tmp_path: Path) -> None:
    cases = [
        (("import", str(tmp_path / "missing.jsonl")), 2, "cannot open"),
        (("memories", "list", "--entity", "e", "--since", "yesterday"), 2, "--since"),
        (("memories", "edit", "x", "--entity", "e", "--metadata", "[1]"), 2, "JSON object"),
        (("memories", "edit", "x", "--entity", "e"), 2, "nothing to change"),
        (("memories", "show", "x", "--entity", ""), 2, "entity_id"),
        (("forget", "--entity", "e", "--session", "s", "--memory", "m", "--yes"), 2, "not both"),
    ]
    for args, code, words in cases:
        out = memori(*args, url=url)
        assert out.returncode == code and words in out.stderr, (args, out.returncode, out.stderr)
        assert "Traceback" not in out.stderr
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    bad = memori("import", str(tmp_path / "bad.jsonl"), url=url)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_an_unreachable_store_exits_6_in_one_line() -> None:
    out = run("memories", "list", "--entity", "e", "--embedder", "hash",
              "--url", "qdrant+http://127.0.0.1:1")
    assert out.returncode == 6, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
