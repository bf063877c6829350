"""What the client and framework tests share: an audit of the hosts they reach (loopback only),
the seed scenario against the loopback stand-ins, and running a docs example.

The audit hook is added once, when this module is first imported, and stays for the process
(an audit hook cannot be removed): it only records while a :func:`loopback_only` block runs.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import Scope, Turn

LOOKUPS = ("socket.getaddrinfo", "socket.gethostbyname")

_WATCH: list[tuple[list[str], bool]] = []
"""While a block runs: the hosts connected to (and, if asked, looked up), and whether asked."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCH:
        return
    hosts, lookups = _WATCH[-1]
    if event == "socket.connect" and isinstance(args[1], tuple):
        hosts.append(str(args[1][0]))
    elif lookups and event in LOOKUPS:
        hosts.append(str(args[0]))


sys.addaudithook(_audit)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def loopback_only(*, lookups: bool = True, some: bool = True) -> Iterator[list[str]]:
    """Assert at the end that every host connected to (and looked up, with ``lookups``)
    in the block is loopback; with ``some``, that at least one connection was made."""
    hosts: list[str] = []
    watch = (hosts, lookups)
    _WATCH.append(watch)
    try:
        yield hosts
    finally:
        _WATCH.remove(watch)
    assert (hosts or not some) and all(is_loopback(h) for h in hosts), hosts


def stored(mem: Memori, entity: str, process: str | None = None) -> list[Turn]:
    """The turns of a scope, once the writes queued so far are in."""
    mem.flush()
    return mem.store.list_turns(Scope(entity, process))


Ask = Callable[[str, str], Awaitable[str]]
"""Ask a model as ``(persona, text)``; the reply's text."""


async def seed_scenario(mem: Memori, ask: Ask, sent: Callable[[], str], *, goal: str,
                        question: str, recalled: str = "sub-25 5K") -> list[Turn]:
    """Ana tells her running coach her goal; a new session of the coach is told it back
    (``sent()``: what the model last received), ana's meal planner and bob's coach are not.
    Returns the coach's turns recorded in the first session."""
    mem.attribution(entity_id="ana", process_id="coach", session_id="week-1")
    assert await ask("running coach", goal) == f"echo: {goal}"
    assert await mem.aflush()
    recorded = mem.store.list_turns(Scope("ana", "coach"))
    assert [(t.role, t.content) for t in recorded] == [
        ("user", goal), ("assistant", f"echo: {goal}")]

    mem.attribution(entity_id="ana", process_id="coach", session_id="week-2")
    assert await ask("running coach", question) == f"echo: {question}"
    assert recalled in sent()

    mem.attribution(entity_id="ana", process_id="planner", session_id="p-1")
    await ask("meal planner", question)
    assert "sub-25" not in sent()
    mem.attribution(entity_id="bob", process_id="coach", session_id="b-1")
    await ask("running coach", question)
    assert "sub-25" not in sent()
    assert mem.llm.stats.passthrough == 0
    return recorded


def run_docs_example(runnable: str, capsys: pytest.CaptureFixture[str],
                     printed: str = "echo: What is my goal?\n") -> None:
    """Run the ``# runnable: <runnable>`` example of docs/llm.md; it prints ``printed``."""
    text = (Path(__file__).parent.parent / "docs" / "llm.md").read_text()
    block = re.search(rf"```python\n(# runnable: {re.escape(runnable)}\n.*?)```", text, re.S)
    assert block is not None
    exec(compile(block.group(1), "docs/llm.md", "exec"), {})
    assert capsys.readouterr().out == printed
