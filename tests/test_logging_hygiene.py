"""memori logs like a library: module loggers under a silent package logger, no message
text at any level unless MEMORI_LOG_CONTENT asks for it, MEMORI_LOG_LEVEL for operators."""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import memori
from memori import FlushError, Memori
from memori.core import ConfigurationError, Memory, Turn
from memori.observability.logs import describe_error
from memori.testing import OpenAIServer

SRC = Path(memori.__file__).resolve().parent
SECRET = "orchid-ledger-5521"


def logger_names() -> dict[str, list[str]]:
    """Module -> the source of every ``getLogger(...)`` argument in it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getLogger":
                args = [ast.unparse(a) for a in node.args]
                found.setdefault(str(path.relative_to(SRC)), []).extend(args or ["<root>"])
    return found


def test_every_module_logs_to_its_own_name() -> None:
    names = logger_names()
    assert len(names) >= 15  # the scan finds the loggers
    wrong = {module: args for module, args in names.items()
             if module != "observability/logs.py"
             and any(a != "__name__" for a in args)}
    assert not wrong, f"loggers not named after their module: {wrong}"


def test_the_package_logger_is_silent_until_configured() -> None:
    handlers = logging.getLogger("memori").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


class Refusing:
    """An extractor whose error quotes the turn, as third-party code may."""

    name = "refusing"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        raise RuntimeError(f"cannot parse {turns[0].content!r}")


def failing_scenario(sqlite_url: str, server: OpenAIServer) -> None:
    """A call whose recall fails, a write that fails once and an extraction that fails
    until parked, each error quoting message text; flush raises FlushError."""

    class Broken:
        def retrieve(self, store: Any, scope: Any, query: str, **kw: Any) -> list[Any]:
            raise ValueError(f"cannot rank {query!r}")

    mem = Memori(sqlite_url, embedder="hash", extractor=Refusing(), retriever=Broken())  # type: ignore[arg-type]
    mem.pipeline.runner.policy.base_backoff = 0.0  # type: ignore[union-attr]
    store = mem.store
    real = store.append_turns
    calls = []

    def append_turns(turns: Sequence[Turn]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError(f"cannot store {turns[0].content!r}")
        real(turns)

    store.append_turns = append_turns  # type: ignore[method-assign]
    client = mem.llm.register(server.client())
    mem.attribution(entity_id="u", session_id="s")
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"My PIN is {SECRET}"}])
    with pytest.raises(FlushError):
        for _ in range(20):
            mem.flush(timeout=10)
    mem.close()


def test_no_log_line_holds_message_text(
    sqlite_url: str, openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MEMORI_LOG_CONTENT", raising=False)
    caplog.set_level(logging.DEBUG, logger="memori")
    failing_scenario(sqlite_url, openai_server)
    text = caplog.text
    assert "recall failed (ValueError)" in text  # the failures were logged...
    assert "writing 2 turn(s) failed" in text or "writing a turn failed" in text
    assert re.search(r"extraction of \d turn\(s\) failed \(RuntimeError\)", text)
    assert SECRET not in text  # ...without the text they quoted


def test_memori_log_content_logs_error_messages(
    sqlite_url: str, openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMORI_LOG_CONTENT", "1")
    caplog.set_level(logging.DEBUG, logger="memori")
    failing_scenario(sqlite_url, openai_server)
    assert SECRET in caplog.text


def test_errors_are_described_by_class_and_safe_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MEMORI_LOG_CONTENT", raising=False)
    assert describe_error(ValueError(SECRET)) == "ValueError"
    assert describe_error(PermissionError(13, "Permission denied", "/data/journal")) == (
        "PermissionError: [Errno 13] Permission denied: '/data/journal'")
    flush = FlushError("3 turn(s) ...", turns=3, cause=f"RuntimeError: cannot parse {SECRET}")
    assert describe_error(flush).startswith("FlushError: 3 turn(s) not stored or extracted "
                                            "(cause RuntimeError)")
    assert describe_error(ConfigurationError("bad setting")) == "ConfigurationError: bad setting"


def test_a_bad_log_variable_names_itself(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORI_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError, match="MEMORI_LOG_LEVEL must be one of DEBUG"):
        Memori(sqlite_url, embedder="hash")
    monkeypatch.setenv("MEMORI_LOG_LEVEL", "")
    monkeypatch.setenv("MEMORI_LOG_CONTENT", "verbose")
    with pytest.raises(ConfigurationError, match="MEMORI_LOG_CONTENT must be"):
        Memori(sqlite_url, embedder="hash")


def test_a_level_the_application_set_wins(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("memori")
    monkeypatch.setattr(logger, "level", logging.ERROR)
    monkeypatch.setenv("MEMORI_LOG_LEVEL", "DEBUG")
    Memori(sqlite_url, embedder="hash").close()
    assert logger.level == logging.ERROR


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEMORI_LOG")}
    environ.update(MEMORI_HOME=str(tmp_path / "home"), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                          capture_output=True, text=True, timeout=120)


def test_memori_log_level_shows_memoris_lines_on_stderr(tmp_path: Path) -> None:
    code = f"""
        import logging
        from memori import Memori
        Memori("sqlite:///{tmp_path / 'm.db'}", embedder="hash").close()
        logging.getLogger("memori.pipeline.worker").info("an info line")
        logging.getLogger("memori.pipeline.worker").debug("a debug line")
        logging.getLogger("other.library").warning("not memori's")
    """
    shown = run(code, tmp_path, MEMORI_LOG_LEVEL="info").stderr
    assert "INFO memori.pipeline.worker: an info line" in shown
    assert "a debug line" not in shown and "not memori's" in shown  # Python's last resort
    assert "a debug line" in run(code, tmp_path, MEMORI_LOG_LEVEL="DEBUG").stderr
    silent = run(code, tmp_path).stderr
    assert "an info line" not in silent
