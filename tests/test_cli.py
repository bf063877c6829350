"""Every ``memori`` command, run as the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from memori.testing.openai_server import OpenAIServer

MEMORI = shutil.which("memori", path=str(Path(sys.executable).parent)) or "memori"


def run(*args: str, url: str | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    if url is not None:
        full_env["MEMORI_URL"] = url
    return subprocess.run([MEMORI, *args], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_backends_lists_the_built_in_backends() -> None:
    out = run("backends", "--json")
    assert out.returncode == 0, out.stderr
    names = {b["name"] for b in json.loads(out.stdout)["backends"]}
    assert {"sqlite", "postgres", "mongo", "qdrant"} <= names
    text = run("backends")
    assert text.returncode == 0 and "sqlite" in text.stdout and "SCHEMES" in text.stdout


def test_remember_recall_list_stats_forget(sqlite_url: str) -> None:
    r = run("remember", "--entity", "alice", "--process", "coach", "--embedder", "hash",
            "Goal: sub-25 5K by June.", url=sqlite_url)
    assert r.returncode == 0, r.stderr
    memory_id = r.stdout.strip()
    found = run("recall", "--entity", "alice", "--process", "coach", "--embedder", "hash",
                "--json", "5K goal", url=sqlite_url)
    assert found.returncode == 0, found.stderr
    assert [h["id"] for h in json.loads(found.stdout)] == [memory_id]
    other = run("recall", "--entity", "alice", "--process", "planner", "--embedder", "hash",
                "5K goal", url=sqlite_url)
    assert other.returncode == 3 and other.stdout == ""
    listed = run("list", "--entity", "alice", "--process", "coach", "--embedder", "hash",
                 "--json", url=sqlite_url)
    assert [m["content"] for m in json.loads(listed.stdout)] == ["Goal: sub-25 5K by June."]
    stats = run("stats", "--json", "--embedder", "hash", url=sqlite_url)
    assert stats.returncode == 0 and json.loads(stats.stdout)["memories"] == 1
    refused = run("forget", "--entity", "alice", "--embedder", "hash", url=sqlite_url, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    gone = run("forget", "--entity", "alice", "--yes", "--json", "--embedder", "hash",
               url=sqlite_url)
    assert gone.returncode == 0
    assert json.loads(gone.stdout) == {"entity_id": "alice", "removed": 1, "remaining": 0}


def test_bad_ids_and_unknown_backends_exit_with_meaningful_codes(sqlite_url: str) -> None:
    bad = run("recall", "--entity", "", "--embedder", "hash", "x", url=sqlite_url)
    assert bad.returncode == 2 and "entity_id" in bad.stderr
    unknown = run("stats", "--url", "nosuch://u:topsecret@h/db")
    assert unknown.returncode == 3
    assert "topsecret" not in unknown.stderr and "***" in unknown.stderr


def test_export_import_moves_memories_between_databases(tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    for text in ("Likes green tea.", "Lives in Oslo."):
        assert run("remember", "--entity", "e1", "--embedder", "hash", text, url=a).returncode == 0
    assert run("remember", "--entity", "e2", "--embedder", "hash", "Other user.",
               url=a).returncode == 0
    exported = run("export", "--entity", "e1", "--embedder", "hash", url=a)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(x) for x in exported.stdout.splitlines()]
    assert {r["content"] for r in lines} == {"Likes green tea.", "Lives in Oslo."}
    assert all(r["embedder"] == "hash-64" for r in lines)
    imported = run("import", "--embedder", "hash:32", url=b, stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    found = run("recall", "--entity", "e1", "--embedder", "hash:32", "--json", "Oslo", url=b)
    assert json.loads(found.stdout)[0]["content"] == "Lives in Oslo."
    assert run("list", "--entity", "e2", "--embedder", "hash:32", "--json",
               url=b).stdout.strip() == "[]"
    broken = run("import", "--embedder", "hash", url=b, stdin='{"type": "memory"\n')
    assert broken.returncode == 2 and "line 1" in broken.stderr


def test_shell_pipe_export_into_import(tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    run("remember", "--entity", "p", "--embedder", "hash", "Piped memory.", url=a)
    pipe = subprocess.run(
        f"'{MEMORI}' export --url '{a}' --embedder hash | '{MEMORI}' import --url '{b}' "
        "--embedder hash", shell=True, capture_output=True, text=True, timeout=120)
    assert pipe.returncode == 0, pipe.stderr
    listed = run("list", "--entity", "p", "--embedder", "hash", "--json", url=b)
    assert [m["content"] for m in json.loads(listed.stdout)] == ["Piped memory."]


def test_doctor_and_migrate_on_an_outdated_database(tmp_path: Path) -> None:
    from memori.backends.sql import migrate

    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate.upgrade(conn, "0001")
    engine.dispose()
    url = f"sqlite:///{path}"
    doctor = run("doctor", "--embedder", "hash", url=url)
    assert doctor.returncode == 4 and "memori migrate" in doctor.stdout
    refused = run("stats", "--embedder", "hash", url=url)
    assert refused.returncode == 1 and "memori migrate" in refused.stderr
    migrated = run("migrate", url)
    assert migrated.returncode == 0, migrated.stderr
    healthy = run("doctor", "--embedder", "hash", "--json", url=url)
    assert healthy.returncode == 0, healthy.stdout
    assert json.loads(healthy.stdout)["healthy"] is True


def test_python_dash_m_memori_runs_the_same_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "memori", "backends", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "sqlite" in out.stdout


def test_chat_remembers_across_runs(sqlite_url: str, openai_server: OpenAIServer) -> None:
    env = {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": "test"}
    first = run("chat", "--entity", "zoe", "--embedder", "hash", "--model", "gpt-4o-mini",
                url=sqlite_url, env=env, stdin="I am allergic to shellfish.\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip()  # the model's reply was printed
    second = run("chat", "--entity", "zoe", "--embedder", "hash", "--model", "gpt-4o-mini",
                 url=sqlite_url, env=env, stdin="What am I allergic to?\n")
    assert second.returncode == 0, second.stderr
    last = openai_server.chat_requests()[-1]
    assert "shellfish" in json.dumps(last.body["messages"])


def test_chat_without_an_endpoint_is_a_usage_error(sqlite_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    out = subprocess.run([MEMORI, "chat", "--entity", "x", "--url", sqlite_url],
                         capture_output=True, text=True, env=env, input="", timeout=120)
    assert out.returncode == 2 and "OPENAI_BASE_URL" in out.stderr


@pytest.mark.parametrize("command", ["backends", "doctor", "migrate", "remember", "recall",
                                     "list", "forget", "stats", "export", "import", "chat"])
def test_every_command_has_help(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0 and "usage: memori" in out.stdout


def test_backends_discovers_the_installed_example_plugin() -> None:
    out = run("backends", "--json")
    rows = {b["name"]: b for b in json.loads(out.stdout)["backends"]}
    assert "jsonl" in rows, "pip install -e examples/plugin-jsonl (scripts/test does)"
    assert rows["jsonl"]["schemes"] == "jsonl" and rows["jsonl"]["installed"] == "yes"


def test_export_import_moves_an_entity_from_sqlite_to_postgres(
    sqlite_url: str, pg_url: str
) -> None:
    import uuid

    from memori.config import open_backend
    from memori.core import Scope

    alice, bob = f"cli-alice-{uuid.uuid4().hex[:8]}", f"cli-bob-{uuid.uuid4().hex[:8]}"
    for args in (
        ["--entity", alice, "--process", "coach", "Goal: sub-25 5K by June."],
        ["--entity", alice, "--process", "planner", "Prefers vegetarian dinners."],
        ["--entity", alice, "--shared", "Allergic to peanuts."],
        ["--entity", bob, "Bob's private note."],
    ):
        done = run("remember", "--embedder", "hash", *args, url=sqlite_url)
        assert done.returncode == 0, done.stderr
    database = f"memori_cli_{uuid.uuid4().hex[:10]}"  # its own database: a fresh schema
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    pg_url = sa.engine.make_url(pg_url).set(database=database).render_as_string(
        hide_password=False)
    pipe = subprocess.run(
        f"'{MEMORI}' export --url '{sqlite_url}' --entity '{alice}' --embedder hash | "
        f"'{MEMORI}' import --url '{pg_url}' --embedder hash",
        shell=True, capture_output=True, text=True, timeout=300)
    assert pipe.returncode == 0, pipe.stderr

    source, target = open_backend(sqlite_url, vector_dim=64), open_backend(pg_url, vector_dim=64)
    source.setup()
    target.setup()
    try:
        for persona in ("coach", "planner", None):
            scope = Scope(alice, persona)
            want = {(m.id, m.content, m.process_id, m.shared)
                    for m in source.list_memories(scope)}
            got = {(m.id, m.content, m.process_id, m.shared)
                   for m in target.list_memories(scope)}
            assert got == want and got
        coach = [h.content for h in target.search_memories(Scope(alice, "coach"),
                                                           text="dinners 5K peanuts")]
        assert "Prefers vegetarian dinners." not in coach
        assert {"Goal: sub-25 5K by June.", "Allergic to peanuts."} <= set(coach)
        exported = sorted(r["id"] for r in source.export(alice))
        assert sorted(r["id"] for r in target.export(alice)) == exported
        assert len(exported) == 3
        assert target.raw_count(bob) == 0
    finally:
        source.close()
        target.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()


def test_import_reports_its_count_and_rate_as_json_and_refuses_non_utf8(tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    for text in ("Likes green tea.", "Lives in Oslo.", "Runs on Sundays."):
        assert run("remember", "--entity", "e1", "--embedder", "hash", text, url=a).returncode == 0
    dump = tmp_path / "dump.jsonl"
    dump.write_text(run("export", "--entity", "e1", "--embedder", "hash", url=a).stdout)
    done = run("import", "--embedder", "hash", "--json", str(dump), url=b)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] == 3 and report["seconds"] >= 0 and report["per_second"] > 0
    plain = run("import", "--embedder", "hash", str(dump), url=f"sqlite:///{tmp_path / 'c.db'}")
    assert plain.returncode == 0 and "imported 3 record(s) in" in plain.stderr
    assert "/s)" in plain.stderr
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"type": "memory", "content": "caf\xe9"}\n'.encode("latin-1"))
    bad = run("import", "--embedder", "hash", str(latin), url=b)
    assert bad.returncode == 2 and "not UTF-8" in bad.stderr and "Traceback" not in bad.stderr


def test_import_progress_shows_the_total_and_a_rate_on_a_terminal() -> None:
    import io

    from memori.cli.output import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress("imported", total=4, stream=screen)
    progress.advance(4)
    progress.done()
    assert "4/4" in screen.getvalue() and "/s" in screen.getvalue()
