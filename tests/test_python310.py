"""Python 3.10 is supported: memori installed into a 3.10 venv runs the offline quickstart
and a slice of the suite (core rules, plans, the pipeline sync and async, the openai SDK
against the test server, the SQLite conformance suite).

The venv also holds LlamaIndex's OpenAI LLM (llama-index-llms-openai), which pins
``openai<3`` and so cannot sit in the main test environment: there its tests
(tests/test_llm_llama_index.py) run, and the slice's LLM tests run on openai 2 as well.

The interpreter is ``MEMORI_TEST_PYTHON310``, else ``python3.10`` on the PATH, else one
installed by pyenv; without one the tests skip. The venv is built from the package
registry (pip), so it needs the registry or a local mirror of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON_ENV = "MEMORI_TEST_PYTHON310"
REQUIREMENTS = (f"{REPO}[openai]", "pytest>=8", "pytest-asyncio>=0.24", "hypothesis>=6.100",
                "llama-index-llms-openai")
# The venv has the openai extra only: the suite's PostgreSQL, MongoDB and Qdrant cases
# are deselected, the SQLite and in-memory ones run.
SLICE = (
    "tests/test_strenum.py",
    "tests/test_store_rules.py",
    "tests/test_plan_store.py",
    "tests/test_journal.py",
    "tests/test_outbox_logic.py",
    "tests/test_llm_context.py",
    "tests/test_llm_chat.py",
    "tests/test_time_in_block.py",
    "tests/test_async_augmentation.py::test_turn_facts_are_recalled_at_the_next_turn_after_aflush",
    "tests/test_async_augmentation.py::"
    "test_a_poison_turn_is_parked_alone_and_its_batch_neighbour_is_extracted",
    "tests/test_async_augmentation.py::test_at_most_n_entity_batches_are_in_flight",
    "conformance_tests/test_sqlite.py::TestSQLiteExact",
    "tests/test_llm_llama_index.py",
)
NOT_INSTALLED = "not qdrant and not postgres and not mongo"
# The slowest conformance cases, which test the database more than the Python version.
SLOW_CONFORMANCE = ("test_threads_", "test_hostile_", "test_forget_of_a_hostile_id",
                    "test_async_tasks_never_see_each_other", "test_query_syntax_is_never_an_error",
                    "test_concurrent_setup_from_several_handles")


def _usable(python: str) -> bool:
    """Whether ``python`` runs, is 3.10 and can create a venv with pip."""
    probe = "import sys, ensurepip, venv; print(sys.version_info[:2] == (3, 10))"
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


def find_python310() -> str | None:
    """A Python 3.10 interpreter that can create venvs, or None."""
    named = os.environ.get(PYTHON_ENV)
    if named:
        return named
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [shutil.which("python3.10")]
    candidates += sorted((str(p) for p in pyenv.glob("versions/3.10*/bin/python3.10")),
                         reverse=True)
    return next((c for c in candidates if c and _usable(c)), None)


def _env(home: Path) -> dict[str, str]:
    """The environment of the 3.10 runs: none of the caller's memori, OpenAI or venv settings."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "MEMORI_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**kept, "MEMORI_HOME": str(home), "MEMORI_CONFORMANCE_EXAMPLES": "3",
            "MEMORI_CONFORMANCE_STEPS": "20"}


@pytest.fixture(scope="module")
def venv310(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A Python 3.10 venv with memori, pytest and the suite's plugins; (python, MEMORI_HOME)."""
    python = find_python310()
    if python is None:
        pytest.skip(f"no Python 3.10 found: set {PYTHON_ENV} to a python3.10, put python3.10 "
                    "on the PATH, or install one (e.g. 'pyenv install 3.10')")
    if not _usable(python):
        pytest.fail(f"{PYTHON_ENV}={python} is not a Python 3.10 that can create a venv")
    root = tmp_path_factory.mktemp("python310")
    venv = root / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    venv_python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    home = root / "home"
    install = subprocess.run(
        [str(venv_python), "-m", "pip", "install", "--quiet", "--no-compile",
         "--disable-pip-version-check", *REQUIREMENTS],
        capture_output=True, text=True, timeout=1200, env=_env(home),
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    yield venv_python, home


def test_quickstart_runs_offline_on_python310(venv310: tuple[Path, Path]) -> None:
    python, home = venv310
    out = subprocess.run([str(python), str(REPO / "examples" / "quickstart.py")],
                         capture_output=True, text=True, timeout=300, env=_env(home))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ok: the coach remembered the goal" in out.stdout
    assert (home / "memori.db").exists()


def test_the_suite_slice_passes_on_python310(venv310: tuple[Path, Path]) -> None:
    python, home = venv310
    out = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-k", NOT_INSTALLED, *SLICE,
         *(f"--deselect=conformance_tests/test_sqlite.py::TestSQLiteExact::{name}"
           for name in SLOW_CONFORMANCE)],
        capture_output=True, text=True, timeout=900, env=_env(home), cwd=REPO,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    assert "passed" in out.stdout and " failed" not in out.stdout
    assert " skipped" not in out.stdout, out.stdout[-3000:]  # LlamaIndex's tests ran
