"""memori ui in headless Chromium (Debian's chromium + chromedriver, driven by selenium).

One browser for the module. The application is a ``Memori`` with a registered OpenAI
client (the stand-in server); the UI is another ``Memori`` on the same database, as
``memori ui`` would be. The tests run in order over that one world (an edit made by
the first is what the fourth recalls). ``MEMORI_UI_SCREENSHOTS=1`` saves the pages into
docs/images/ui/ (the screenshots of docs/ui.md).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import Turn
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer
from memori.ui import UIServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "images" / "ui"
ALICE = "alice@example.com"
COACH = "fitness-coach"
SESSION = "run-club-monday"


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for name, where in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
        if not (os.access(where, os.X_OK) or shutil.which(name)):
            return (f"{name} not found: apt-get install chromium chromium-driver "
                    "(scripts/test does it as root)")
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never a browser download
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.access(CHROMIUM, os.X_OK) \
        else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run"):
        options.add_argument(arg)
    driver_path = CHROMEDRIVER if os.access(CHROMEDRIVER, os.X_OK) \
        else str(shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The application (its Memori, a registered client), the UI server, the data."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'memori.db'}"
    app = Memori(url, embedder="hash", extractor=None)
    memories = {
        "goal": app.remember("Goal: run a 5K under 25 minutes by June", entity_id=ALICE,
                             process_id=COACH, kind="goal"),
        "knee": app.remember("Has a sore left knee after long runs", entity_id=ALICE,
                             process_id=COACH),
        "shoes": app.remember("Runs in blue trail shoes", entity_id=ALICE, process_id=COACH),
        "veggie": app.remember("Is vegetarian", entity_id=ALICE, shared=True),
        "bob": app.remember("Bob keeps bees", entity_id="bob@example.com"),
    }
    app.record([
        Turn(ALICE, SESSION, "user", "What's the weather for my run?", COACH),
        Turn(ALICE, SESSION, "assistant", "", COACH, metadata={"tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}),
        Turn(ALICE, SESSION, "tool", "Sunny, 12 C", COACH,
             metadata={"tool_call_id": "call_1"}),
        Turn(ALICE, SESSION, "assistant", "Sunny and 12 C: a good day for it.", COACH),
    ])
    app.flush()
    ui_mem = Memori(url, embedder="hash", extractor=None, sweep_every=None)
    server = UIServer(ui_mem).start()
    with OpenAIServer() as openai_server:
        client = app.llm.register(openai_server.client())
        yield {"app": app, "server": server, "openai": openai_server, "client": client,
               "memories": memories}
        client.close()
    server.stop()
    ui_mem.close()
    app.close()


def shot(browser: Any, name: str) -> None:
    if os.environ.get("MEMORI_UI_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(max(int(height) + 140, 500), 1600))
        browser.save_screenshot(str(SHOTS / f"{name}.png"))
        browser.set_window_size(1280, 900)


def by_id(browser: Any, ident: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, ident)


def click_link(browser: Any, text: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.PARTIAL_LINK_TEXT, text).click()


def wait_for(browser: Any, text: str) -> None:
    """Until the page (after a form's navigation) holds ``text``."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: text in d.page_source)


def injected(world: dict[str, Any], text: str, session: str) -> str:
    """Ask through the registered client as alice's coach; the block the model got."""
    app, client, server = world["app"], world["client"], world["openai"]
    with app.attribution(ALICE, COACH, session):
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": text}])
    sent = server.last_request("chat").messages
    return "\n".join(m["content"] for m in sent
                     if isinstance(m.get("content"), str) and m["content"].startswith(OPEN_TAG))


def test_browse_entity_edit_memory_and_next_call_injects_it(
        browser: Any, world: dict[str, Any]) -> None:
    server: UIServer = world["server"]
    browser.get(server.url)
    assert "token=" not in browser.current_url  # the token became a cookie
    assert "admin" in by_id(browser, "admin").text
    table = by_id(browser, "entities").text
    assert ALICE in table and "bob@example.com" in table
    by_id(browser, "entity-search").send_keys("alice")
    by_id(browser, "entity-search").submit()
    assert "bob@example.com" not in by_id(browser, "entities").text
    shot(browser, "entities")
    click_link(browser, ALICE)
    assert COACH in by_id(browser, "personas").text
    assert SESSION in by_id(browser, "sessions").text
    shot(browser, "entity")
    click_link(browser, "Memories")
    listed = by_id(browser, "memories").text
    assert "sore left knee" in listed and "Bob keeps bees" not in listed
    shot(browser, "memories")
    click_link(browser, "sore left knee")
    box = by_id(browser, "content")
    box.clear()
    box.send_keys("Has a sore RIGHT knee after long runs; prefers soft trails")
    by_id(browser, "save").click()
    assert by_id(browser, "notice").text == "Saved."
    assert "RIGHT knee" in by_id(browser, "memory-content").text
    shot(browser, "memory")
    block = injected(world, "My knee hurts after long runs, what should I do?", "s-edit")
    assert "sore RIGHT knee after long runs; prefers soft trails" in block
    assert "sore left knee" not in block


def test_pinned_memory_is_injected(browser: Any, world: dict[str, Any]) -> None:
    shoes = world["memories"]["shoes"]
    question = "What should I cook tonight?"
    assert "blue trail shoes" not in injected(world, question, "s-before-pin")
    browser.get(f"http://127.0.0.1:{world['server'].port}/e/{ALICE}/m/{shoes.id}")
    by_id(browser, "pin").click()
    assert by_id(browser, "notice").text == "Pinned."
    assert by_id(browser, "unpin")
    block = injected(world, question, "s-after-pin")
    assert "Pinned memories:" in block and "blue trail shoes" in block


def test_delete_memory_after_confirmation(browser: Any, world: dict[str, Any]) -> None:
    goal = world["memories"]["goal"]
    browser.get(f"http://127.0.0.1:{world['server'].port}/e/{ALICE}/m/{goal.id}")
    by_id(browser, "delete").click()
    wait_for(browser, "Delete this memory")  # asked first, nothing deleted yet
    assert world["app"].get_memory(goal.id, entity_id=ALICE, process_id=COACH) is not None
    by_id(browser, "confirm-delete").click()
    assert by_id(browser, "notice").text == "Deleted."
    assert "5K under 25" not in by_id(browser, "memories").text
    assert world["app"].get_memory(goal.id, entity_id=ALICE, process_id=COACH) is None


def test_why_was_this_recalled_shows_signals_floor_and_the_exact_block(
        browser: Any, world: dict[str, Any]) -> None:
    from selenium.webdriver.support.ui import Select

    browser.get(f"http://127.0.0.1:{world['server'].port}/e/{ALICE}/why")
    Select(by_id(browser, "why-persona")).select_by_value(COACH)
    question = "Which shoes do I run in and how is my knee?"
    by_id(browser, "why-q").send_keys(question)
    by_id(browser, "why-ask").click()
    hits = by_id(browser, "hits")
    headings = hits.text.splitlines()[0]
    for signal in ("relevance", "Score", "Floor"):
        assert signal in headings
    assert "RIGHT knee" in hits.text
    assert float(by_id(browser, "floor").text) == world["app"].retriever.min_relevance
    shown = by_id(browser, "block").text
    tokens = int(by_id(browser, "block-tokens").text)
    shot(browser, "why")
    real = injected(world, question, "s-why")  # a new session: no history, as the preview
    assert shown == real
    from memori.retrieval import count_tokens

    assert tokens == count_tokens(real)


def test_session_conversation_then_forget_the_session(browser: Any,
                                                      world: dict[str, Any]) -> None:
    from selenium.webdriver.support.ui import Select

    port = world["server"].port
    browser.get(f"http://127.0.0.1:{port}/e/{ALICE}")
    click_link(browser, SESSION)
    conversation = by_id(browser, "conversation").text
    order = [conversation.index(t) for t in ("weather for my run", "get_weather",
                                             "Sunny, 12 C", "good day for it")]
    assert order == sorted(order)
    assert '{"city": "Oslo"}' in conversation
    shot(browser, "session")
    browser.get(f"http://127.0.0.1:{port}/pipeline")
    assert "admin" in by_id(browser, "admin").text
    by_id(browser, "retry").click()
    assert "Queued" in by_id(browser, "notice").text
    shot(browser, "pipeline")
    browser.get(f"http://127.0.0.1:{port}/e/{ALICE}/forget")
    Select(by_id(browser, "session-target")).select_by_value(SESSION)
    by_id(browser, "session-confirm").send_keys(SESSION[:-1])
    by_id(browser, "forget-session").click()
    wait_for(browser, "nothing was forgotten")
    browser.back()
    Select(by_id(browser, "session-target")).select_by_value(SESSION)
    confirm = by_id(browser, "session-confirm")
    confirm.clear()
    confirm.send_keys(SESSION)
    shot(browser, "forget")
    by_id(browser, "forget-session").click()
    wait_for(browser, "Forgot session")
    assert f"Forgot session {SESSION}" in by_id(browser, "forgotten").text
    app = world["app"]
    from memori.core import Scope
    assert app.store.list_turns(Scope(ALICE, COACH, SESSION)) == []
    browser.get(f"http://127.0.0.1:{port}/e/{ALICE}")
    assert SESSION not in by_id(browser, "sessions").text
