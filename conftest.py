"""What a crashed test worker leaves behind, printed in the run's summary.

Under pytest-xdist a worker that dies (a fault in a C extension, a kill) is reported
only as "worker crashed while running <test>"; its own last words go to a stderr
that a long log may cut. So each worker writes Python's fault handler output (every
thread's stack on SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) to a file of its own,
and notes the test it runs and its peak memory before each test. The controller
prints the files of every worker that crashed at the end of the run.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest

DIR_ENV = "MEMORI_TEST_CRASH_DIR"
HARNESS = ("/_pytest/", "/pluggy/", "/xdist/", "/execnet/", 'File "<string>"')
"""Frames of the test harness itself, left out of the report."""
_files: list[IO[str]] = []


def _worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


@pytest.hookimpl(trylast=True)  # after pytest's own fault handler, which writes to stderr
def pytest_configure(config: pytest.Config) -> None:
    worker = _worker()
    if worker is None:
        if DIR_ENV not in os.environ:  # the controller: its workers inherit the directory
            os.environ[DIR_ENV] = tempfile.mkdtemp(prefix="memori-test-crash-")
            config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(DIR_ENV), True))
        return
    folder = os.environ.get(DIR_ENV)
    if folder:
        out = open(Path(folder) / f"{worker}-{os.getpid()}.faults", "w")  # noqa: SIM115
        _files.append(out)
        faulthandler.enable(file=out, all_threads=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A worker that ends normally leaves nothing behind."""
    folder, worker = os.environ.get(DIR_ENV), _worker()
    if folder and worker:
        faulthandler.disable()
        for out in _files:
            out.close()
        for suffix in (".faults", ".last"):
            (Path(folder) / f"{worker}-{os.getpid()}{suffix}").unlink(missing_ok=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    folder, worker = os.environ.get(DIR_ENV), _worker()
    if folder and worker:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        (Path(folder) / f"{worker}-{os.getpid()}.last").write_text(
            f"running {nodeid} (peak RSS so far {peak_mib} MiB)\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """On the controller: the last words of every worker process that crashed."""
    folder = os.environ.get(DIR_ENV)
    if _worker() is not None or not folder:
        return
    crashed = [r for r in terminalreporter.stats.get("failed", [])
               if "crashed while running" in str(getattr(r, "longrepr", ""))]
    if not crashed:
        return
    terminalreporter.section("crashed workers: their last words")
    for path in sorted(Path(folder).glob("*.faults")):  # workers that ended normally
        faults = path.read_text(errors="replace").strip()  # removed theirs
        last = path.with_suffix(".last")
        terminalreporter.write_line(f"--- worker {path.stem}")
        if last.exists():
            terminalreporter.write_line(last.read_text().strip())
        kept = [line for line in faults.splitlines() if not any(p in line for p in HARNESS)]
        terminalreporter.write_line("\n".join(kept) or "(no fault report: killed, e.g. by SIGKILL)")
