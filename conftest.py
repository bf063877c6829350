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
_state: dict[str, str] = {}
"""This process's role: ``folder`` (the run's directory) and, in a worker, ``stem``."""


@pytest.hookimpl(trylast=True)  # after pytest's own fault handler, which writes to stderr
def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:  # a controller (or a run without xdist): a directory of its own,
        folder = tempfile.mkdtemp(prefix="memori-test-crash-")  # inherited by its workers
        os.environ[DIR_ENV] = _state["folder"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, True))
        return
    inherited = os.environ.get(DIR_ENV)
    if inherited:
        _state["folder"] = inherited
        _state["stem"] = stem = f"{workerinput['workerid']}-{os.getpid()}"
        out = open(Path(inherited) / f"{stem}.faults", "w")  # noqa: SIM115
        _files.append(out)
        faulthandler.enable(file=out, all_threads=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A worker that ends normally leaves nothing behind."""
    stem = _state.get("stem")
    if stem:
        faulthandler.disable()
        for out in _files:
            out.close()
        for suffix in (".faults", ".last"):
            (Path(_state["folder"]) / f"{stem}{suffix}").unlink(missing_ok=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    stem = _state.get("stem")
    if stem:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        (Path(_state["folder"]) / f"{stem}.last").write_text(
            f"running {nodeid} (peak RSS so far {peak_mib} MiB)\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """On the controller: the last words of every worker process that crashed."""
    folder = _state.get("folder")
    if "stem" in _state or not folder:
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
