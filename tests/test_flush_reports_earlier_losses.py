"""``flush()`` tells of every turn set aside or parked since the last flush that said so,
also when the background work got there before the flush was called.

A fast writer (or extraction worker) can reject or park a turn before the application
calls ``flush()``; a flush that only counted what happened while it waited returned
True for it, and no flush ever told of the loss. A CI run caught it as a flaky test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Memory, Turn
from memori.core.errors import FlushError


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the background work never got there"
        time.sleep(0.01)


def turn(entity: str, text: str) -> Turn:
    return Turn(entity_id=entity, session_id="s1", role="user", content=text)


def test_a_turn_set_aside_before_the_flush_is_reported_by_it_once(tmp_path: Path) -> None:
    with Memori(f"sqlite:///{tmp_path / 'r.db'}", embedder="hash", extractor=None) as mem:
        original = mem.store.append_turns

        def picky(turns: Sequence[Turn]) -> None:
            if any("zebracorn" in t.content for t in turns):
                raise ValueError("refused")
            original(turns)

        mem.store.append_turns = picky  # type: ignore[method-assign]
        mem.record([turn("zed", "zebracorn 42"), turn("amy", "fine")])
        until(lambda: mem.metrics.rejected == 1 and mem.metrics.queued == 0)
        with pytest.raises(FlushError, match=r"1 turn\(s\) could not be stored"):
            mem.flush(timeout=30)  # it happened before this call: still this call's news
        assert mem.flush(timeout=30)  # told once
        mem.record([turn("zed", "zebracorn again")])
        until(lambda: mem.metrics.rejected == 2)
        with pytest.raises(FlushError):
            mem.flush(timeout=30)


class Failing:
    """An extractor whose model never answers: every turn ends parked."""

    name = "failing"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        raise RuntimeError("the model is down")


def test_a_turn_parked_before_the_flush_is_reported_by_it_once(tmp_path: Path) -> None:
    with Memori(f"sqlite:///{tmp_path / 'p.db'}", embedder="hash",
                extractor=Failing()) as mem:
        mem.record([turn("eve", "I keep bees.")])
        until(lambda: mem.metrics.parked == 1)
        with pytest.raises(FlushError, match=r"1 turn\(s\) stored but their extraction"):
            mem.flush(timeout=30)
        assert mem.flush(timeout=30)


def test_aflush_reports_a_turn_parked_before_it(tmp_path: Path) -> None:
    async def run() -> None:
        with Memori(f"sqlite:///{tmp_path / 'a.db'}", embedder="hash",
                    extractor=Failing()) as mem:
            mem.record([turn("eve", "I keep bees.")])
            while mem.metrics.parked < 1:
                await asyncio.sleep(0.01)
            with pytest.raises(FlushError):
                await mem.aflush(timeout=30)
            assert await mem.aflush(timeout=30)

    asyncio.run(asyncio.wait_for(run(), 60))


def test_a_script_that_never_flushes_is_told_at_exit(tmp_path: Path) -> None:
    """A real script that logs as applications do: a turn set aside before it ends, no
    flush() and no close(); the exit handler's flush logs the loss as news (the text of
    the turn never appears)."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(f"""
        import logging
        import time
        from memori import Memori
        from memori.core import Turn

        mem = Memori({f"sqlite:///{tmp_path / 'x.db'}"!r}, embedder="hash", extractor=None)
        original = mem.store.append_turns

        def picky(turns):
            if any("zebracorn" in t.content for t in turns):
                raise ValueError("refused")
            original(turns)

        mem.store.append_turns = picky
        mem.record([Turn("zed", "s1", "user", "zebracorn 42")])
        while mem.metrics.rejected < 1:
            time.sleep(0.01)
        logging.basicConfig(format="%(message)s")  # from here on, as an app logs
        print("done", flush=True)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "done"
    assert "flush at exit: FlushError: 1 turn(s) not stored" in run.stderr
    assert "zebracorn" not in run.stderr
