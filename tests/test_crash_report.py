"""The root conftest's crash report: a worker that dies leaves its last words in the summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

ROOT = Path(__file__).resolve().parent.parent

CRASHING = '''
import ctypes, os, signal

def test_fine():
    pass

def test_segfault():
    ctypes.string_at(0)

def test_killed():
    os.kill(os.getpid(), signal.SIGKILL)
'''


def test_a_crashed_worker_reports_its_stack_and_a_killed_one_its_last_test(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_crashing.py").write_text(CRASHING)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
         "test_crashing.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    report = out.split("crashed workers: their last words", 1)[1]
    assert "running test_crashing.py::test_segfault" in report
    assert "Segmentation fault" in report
    assert 'test_crashing.py", line 8 in test_segfault' in report
    assert "running test_crashing.py::test_killed" in report
    assert "(no fault report: killed, e.g. by SIGKILL)" in report
    assert "/_pytest/" not in report  # the harness's own frames are left out
    assert "1 passed" in out


JOURNEY = '''
import ctypes

class TestJourney:
    def test_first(self):
        pass

    def test_crash(self):
        ctypes.string_at(0)

    def test_after(self):
        pass

def test_elsewhere():
    pass
'''


def _distribution_options() -> list[str]:
    """The pytest-xdist options of the test command (scripts/test), as it passes them."""
    line = next(line for line in (ROOT / "scripts" / "test").read_text().splitlines()
                if line.startswith(".venv/bin/python -m pytest"))
    words = line.split()
    return words[words.index("--dist"):words.index('"$@"')]


def test_a_crash_under_the_test_commands_distribution_ends_the_run_once(
    tmp_path: Path,
) -> None:
    """With the test command's options a crash is reported once and the run ends; the
    crashing test is not handed to a replacement worker to crash again (or to hang)."""
    options = _distribution_options()
    assert options[:2] == ["--dist", "loadscope"] and "--max-worker-restart" in options
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_journey.py").write_text(JOURNEY)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
         *options, "test_journey.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert out.count("FAILED test_journey.py::TestJourney::test_crash") == 1, out
    report = out.split("crashed workers: their last words", 1)[1]
    assert "running test_journey.py::TestJourney::test_crash" in report
