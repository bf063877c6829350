"""MEMORI_* variables: each one changes what an operator expects, an explicit argument wins
over it, and a bad value is a ConfigurationError naming the variable.

Every variable of the table in docs/configuration.md is exercised here or in the
module named in :data:`ELSEWHERE` (a meta-test checks the table against both).
"""

from __future__ import annotations

import re
from pathlib import Path

import openai
import pytest

from memori import Memori
from memori.core import ConfigurationError, Scope
from memori.retrieval.hybrid import HybridRetriever
from memori.testing import OpenAIServer

ROOT = Path(__file__).resolve().parent.parent
ELSEWHERE = {
    "MEMORI_OTEL": "test_observability_otel.py",
    "MEMORI_OTEL_CAPTURE_CONTENT": "test_observability_otel.py",
    "MEMORI_LOG_LEVEL": "test_logging_hygiene.py",
    "MEMORI_LOG_CONTENT": "test_logging_hygiene.py",
    "MEMORI_URL": "test_facade.py",
    "MEMORI_HOME": "test_facade.py",
    "MEMORI_LOAD_PLUGINS": "test_hooks_meta.py",
    "MEMORI_DISABLE_PLUGINS": "test_registry_fallback.py",
    "MEMORI_RETENTION": "test_pinned_expiry.py",
    "MEMORI_MCP_ENTITY": "test_mcp_server.py",
}
NOT_VARIABLES = {
    "MEMORI_OPTIONS": "a constant of the Qdrant backend (the options memori takes itself)",
    "MEMORI_ALLOWED": "a constant of tests/test_migrations_frozen.py",
    "MEMORI_TABLES": "a constant of tests/test_sql_migrations.py",
    "MEMORI_LOG": "a prefix (MEMORI_LOG_LEVEL, MEMORI_LOG_CONTENT) a test strips",
}
"""Names matching ``MEMORI_*`` in the code that are not environment variables."""
SCANNED = ("src/memori", "tests", "scripts", "conformance_tests", "benchmarks", "examples")
MODEL = "gpt-4o-mini"


def documented_variables() -> list[str]:
    """The variables of the operator table in docs/configuration.md."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    table = table.split("\n### ", 1)[0]  # the test suite's own variables follow
    return sorted(set(re.findall(r"^\| `(MEMORI_[A-Z0-9_]+)`", table, flags=re.MULTILINE)))


def test_every_documented_variable_has_a_test() -> None:
    documented = documented_variables()
    assert "MEMORI_DISABLED" in documented and len(documented) >= 16
    here = Path(__file__).read_text(encoding="utf-8")
    missing = []
    for name in documented:
        module = ELSEWHERE.get(name)
        source = (ROOT / "tests" / module).read_text(encoding="utf-8") if module else here
        if name not in source or (module is None and f"def test_{name[7:].lower()}("
                                  not in source):
            missing.append(name)
    assert not missing, f"documented but not tested: {missing}"


def test_every_variable_in_the_code_is_documented() -> None:
    """Each ``MEMORI_*`` name in the package (and the tests, scripts and benchmarks) is in
    docs/configuration.md: a variable read in src/ but left out of the docs fails here."""
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else ():
            text = path.read_text(encoding="utf-8")
            for name in re.findall(r"\bMEMORI_[A-Z0-9_]*[A-Z0-9]\b", text):
                found.setdefault(name, str(path.relative_to(ROOT)))
    assert "MEMORI_MCP_ENTITY" in found and "MEMORI_CONFORMANCE_SHRINK" in found
    missing = {name: where for name, where in found.items()
               if name not in NOT_VARIABLES and f"`{name}`" not in documented}
    assert not missing, f"read but not in docs/configuration.md: {missing}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in documented_variables():
        if name not in ("MEMORI_HOME",):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def bad(sqlite_url: str, variable: str, value: str, env: pytest.MonkeyPatch, **kw: object) -> str:
    """The message of the ConfigurationError that ``variable=value`` raises."""
    env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        Memori(sqlite_url, **kw)  # type: ignore[arg-type]
    message = str(caught.value)
    assert variable in message
    env.delenv(variable)
    return message


def test_embedder(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_EMBEDDER", "hash:48")
    with Memori(sqlite_url + "1") as mem:
        assert mem.embedder is not None and mem.embedder.dim == 48
    with Memori(sqlite_url + "2", embedder="hash:32") as mem:  # the argument wins
        assert mem.embedder is not None and mem.embedder.dim == 32
    with Memori(sqlite_url + "3", embedder=None) as mem:
        assert mem.embedder is None
    env.setenv("MEMORI_EMBEDDER", "none")
    with Memori(sqlite_url + "4") as mem:
        assert mem.embedder is None
    assert "unknown embedder 'bogus'" in bad(sqlite_url, "MEMORI_EMBEDDER", "bogus", env)


def test_extractor(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_EXTRACTOR", "none")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.pipeline.runner is None
        mem.attribution(entity_id="u")
        mem.record([])
    with Memori(sqlite_url, embedder="hash", extractor="offline") as mem:
        assert mem.pipeline.runner is not None
    assert "unknown extractor" in bad(sqlite_url, "MEMORI_EXTRACTOR", "magic", env,
                                      embedder="hash")
    assert "needs a model name" in bad(sqlite_url, "MEMORI_EXTRACTOR", "llm:", env,
                                       embedder="hash")


def test_extractor_llm_calls_the_operators_endpoint(
    sqlite_url: str, env: pytest.MonkeyPatch, openai_server: OpenAIServer
) -> None:
    env.setenv("MEMORI_EXTRACTOR", f"llm:{MODEL}")
    env.setenv("OPENAI_BASE_URL", openai_server.base_url)
    env.setenv("OPENAI_API_KEY", "test")
    openai_server.enqueue('{"memories": [{"content": "The user runs 5K races.", '
                          '"kind": "fact", "shared": false, "slot": null}]}', model=MODEL)
    with Memori(sqlite_url, embedder="hash") as mem:
        mem.attribution(entity_id="u", session_id="s")
        from memori.core import Turn

        mem.record([Turn(entity_id="u", session_id="s", role="user", content="I run 5K races.")])
        mem.flush()
        assert [m.content for m in mem.memories()] == ["The user runs 5K races."]
    assert openai_server.last_request("chat").model == MODEL


def test_strict(sqlite_url: str, env: pytest.MonkeyPatch, openai_server: OpenAIServer) -> None:
    env.setenv("MEMORI_STRICT", "yes")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.strict is True
        client = mem.llm.register(openai_server.client())
        with pytest.raises(ValueError, match="entity_id"):  # strict: no attribution raises
            client.chat.completions.create(model=MODEL,
                                           messages=[{"role": "user", "content": "hi"}])
    with Memori(sqlite_url, embedder="hash", strict=False) as mem:
        assert mem.strict is False
    env.setenv("MEMORI_STRICT", "0")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.strict is False
    assert "got 'maybe'" in bad(sqlite_url, "MEMORI_STRICT", "maybe", env, embedder="hash")


def test_disabled(sqlite_url: str, env: pytest.MonkeyPatch, openai_server: OpenAIServer) -> None:
    with Memori(sqlite_url, embedder="hash") as mem:
        mem.attribution(entity_id="u", session_id="s")
        mem.remember("The user's locker code is 4711.")
    env.setenv("MEMORI_DISABLED", "1")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.disabled
        client = mem.llm.register(openai_server.client())
        mem.attribution(entity_id="u", session_id="s")
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "What is my locker code?"}])
        mem.flush()
        sent = openai_server.last_request("chat").messages
        assert [m["content"] for m in sent] == ["What is my locker code?"]  # nothing injected
        assert mem.store.list_turns(Scope("u", None, "s")) == []  # nothing recorded
        assert mem.llm.stats.passthrough == 1
    with Memori(sqlite_url, embedder="hash", disabled=False) as mem:  # the argument wins
        client = mem.llm.register(openai_server.client())
        mem.attribution(entity_id="u", session_id="s")
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "What is my locker code?"}])
        assert "4711" in str(openai_server.last_request("chat").messages)
    bad(sqlite_url, "MEMORI_DISABLED", "disabled", env, embedder="hash")


def test_token_budget(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_TOKEN_BUDGET", "250")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.token_budget == 250
    with Memori(sqlite_url, embedder="hash", token_budget=600) as mem:
        assert mem.token_budget == 600
    for value in ("many", "-5", "2.5"):
        assert "whole number" in bad(sqlite_url, "MEMORI_TOKEN_BUDGET", value, env,
                                     embedder="hash")


def test_recall_limit(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_RECALL_LIMIT", "2")
    with Memori(sqlite_url, embedder="hash") as mem:
        mem.attribution(entity_id="u")
        for n in range(4):
            mem.remember(f"Fact {n} about tea.")
        assert len(mem.recall("tea")) == 2
    with Memori(sqlite_url, embedder="hash", recall_limit=3) as mem:
        assert mem.recall_limit == 3
    bad(sqlite_url, "MEMORI_RECALL_LIMIT", "0", env, embedder="hash")


def test_relevance_floor(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_RELEVANCE_FLOOR", "0.8")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert isinstance(mem.retriever, HybridRetriever)
        assert mem.retriever.min_relevance == 0.8
    with Memori(sqlite_url, embedder="hash", relevance_floor=0.2) as mem:
        assert mem.retriever.min_relevance == 0.2  # type: ignore[attr-defined]
    own = HybridRetriever(min_relevance=0.3)
    with Memori(sqlite_url, embedder="hash", retriever=own) as mem:  # its own floor wins
        assert mem.retriever is own and own.min_relevance == 0.3
    with pytest.raises(ConfigurationError, match="built-in retriever"):
        Memori(sqlite_url, embedder="hash", retriever=own, relevance_floor=0.5)
    for value in ("1.5", "high", "nan"):
        bad(sqlite_url, "MEMORI_RELEVANCE_FLOOR", value, env, embedder="hash")


def test_durability(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_DURABILITY", "memory")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.pipeline.recorder.journal is None
    with Memori(sqlite_url, embedder="hash", durability="journal") as mem:
        assert mem.pipeline.recorder.journal is not None
    assert "journal, memory" in bad(sqlite_url, "MEMORI_DURABILITY", "disk", env,
                                    embedder="hash")


def test_read_your_writes(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_READ_YOUR_WRITES", "0")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.pipeline.read_your_writes == 0
    with Memori(sqlite_url, embedder="hash", read_your_writes=1.5) as mem:
        assert mem.pipeline.read_your_writes == 1.5
    assert "seconds" in bad(sqlite_url, "MEMORI_READ_YOUR_WRITES", "90", env, embedder="hash")


def test_read_timeout(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("MEMORI_READ_TIMEOUT", "0.5")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.read_timeout == 0.5
        assert mem.llm.engine.bounded.timeout == 0.5
    with Memori(sqlite_url, embedder="hash", read_timeout=3) as mem:  # the argument wins
        assert mem.read_timeout == 3.0
    assert "seconds" in bad(sqlite_url, "MEMORI_READ_TIMEOUT", "0", env, embedder="hash")
    env.delenv("MEMORI_READ_TIMEOUT", raising=False)
    for value in (0, -1, 61, "2", True):
        with pytest.raises(ValueError, match="read_timeout"):
            Memori(sqlite_url, embedder="hash", read_timeout=value)  # type: ignore[arg-type]


def test_redactor(sqlite_url: str, env: pytest.MonkeyPatch) -> None:
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
    env.setenv("MEMORI_REDACTOR", "secrets")
    with Memori(sqlite_url, embedder="hash") as mem:
        mem.attribution(entity_id="u")
        stored = mem.remember(f"My OpenAI key is {key}")
        assert key not in stored.content
    with Memori(sqlite_url, embedder="hash", redactor=None) as mem:  # the argument wins
        assert mem.redactor is None
    assert "unknown redactor" in bad(sqlite_url, "MEMORI_REDACTOR", "secrets,nope", env,
                                     embedder="hash")


def test_explicit_arguments_win_over_every_variable(
    sqlite_url: str, env: pytest.MonkeyPatch
) -> None:
    values = {"MEMORI_EMBEDDER": "bogus", "MEMORI_EXTRACTOR": "bogus",
              "MEMORI_REDACTOR": "bogus", "MEMORI_STRICT": "1", "MEMORI_DISABLED": "1",
              "MEMORI_TOKEN_BUDGET": "5", "MEMORI_RECALL_LIMIT": "1",
              "MEMORI_RELEVANCE_FLOOR": "1", "MEMORI_DURABILITY": "memory",
              "MEMORI_READ_YOUR_WRITES": "0"}
    for name, value in values.items():
        env.setenv(name, value)
    with Memori(sqlite_url, embedder="hash", extractor="offline", redactor=None, strict=False,
                disabled=False, token_budget=700, recall_limit=4, relevance_floor=0.4,
                durability="journal", read_your_writes=1.0) as mem:
        assert (mem.strict, mem.disabled, mem.token_budget, mem.recall_limit) == (
            False, False, 700, 4)
        assert mem.retriever.min_relevance == 0.4  # type: ignore[attr-defined]
        assert mem.redactor is None and mem.pipeline.runner is not None
        assert mem.pipeline.recorder.journal is not None
        assert mem.pipeline.read_your_writes == 1.0


def test_unset_and_empty_variables_keep_the_defaults(
    sqlite_url: str, env: pytest.MonkeyPatch, openai_server: OpenAIServer
) -> None:
    env.setenv("MEMORI_STRICT", "")
    env.setenv("MEMORI_TOKEN_BUDGET", "  ")
    with Memori(sqlite_url, embedder="hash") as mem:
        assert (mem.strict, mem.disabled, mem.token_budget, mem.recall_limit) == (
            False, False, 1000, 10)
        assert mem.retriever.min_relevance == 0.5  # type: ignore[attr-defined]
        assert mem.redactor is None and mem.pipeline.runner is not None
        assert isinstance(mem.llm.register(openai_server.client()), openai.OpenAI)
