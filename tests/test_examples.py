"""The runnable examples, run as a user would (against the local OpenAI-compatible server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
