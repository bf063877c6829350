"""memori ui over plain HTTP: the token, the entity boundary, escaping, loopback only."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from memori import Memori
from memori.cli.app import build_parser
from memori.ui import UIServer
from ui_helpers import login, request


@pytest.fixture
def server(mem: Memori) -> Iterator[UIServer]:
    s = UIServer(mem).start()
    yield s
    s.stop()


def test_request_without_the_token_is_refused(mem: Memori, server: UIServer) -> None:
    mem.remember("I run 5K", entity_id="alice")
    for target in ("/", "/e/alice", "/e/alice/memories", "/pipeline", "/?token=wrong"):
        answer = request(server, "GET", target)
        assert answer.status == 403, target
        assert "I run 5K" not in answer.body and "alice" not in answer.body
    assert request(server, "GET", "/", cookie="memori_ui_token=wrong").status == 403
    assert request(server, "POST", "/pipeline/retry", form={"csrf": "x"}).status == 403


def test_token_url_sets_a_cookie_and_leaves_the_address(server: UIServer) -> None:
    cookie = login(server)
    assert request(server, "GET", "/", cookie=cookie).status == 200
    token = server.token.value
    answer = request(server, "GET", f"/e/x/memories?kind=a&token={token}")
    assert answer.status == 303 and answer.headers["Location"] == "/e/x/memories?kind=a"
    assert "HttpOnly" in answer.headers["Set-Cookie"]


def test_post_without_the_csrf_field_is_refused(mem: Memori, server: UIServer) -> None:
    m = mem.remember("keep me", entity_id="alice")
    cookie = login(server)
    answer = request(server, "POST", f"/e/alice/m/{m.id}/delete", cookie=cookie,
                     form={"confirm": "yes"})
    assert answer.status == 403
    assert mem.get_memory(m.id, entity_id="alice") is not None


def test_another_entitys_memory_id_returns_404(mem: Memori, server: UIServer) -> None:
    mem.remember("alice likes tea", entity_id="alice")
    bobs = mem.remember("bob's secret plan", entity_id="bob", process_id="coach")
    cookie = login(server)
    token = server.token.value
    assert request(server, "GET", f"/e/bob/m/{bobs.id}", cookie=cookie).status == 200
    answer = request(server, "GET", f"/e/alice/m/{bobs.id}", cookie=cookie)
    assert answer.status == 404 and "secret" not in answer.body
    for action, form in (("edit", {"content": "hacked"}), ("pin", {}),
                         ("delete", {"confirm": "yes"})):
        answer = request(server, "POST", f"/e/alice/m/{bobs.id}/{action}", cookie=cookie,
                         form={"csrf": token, **form})
        assert answer.status == 404, action
    kept = mem.get_memory(bobs.id, entity_id="bob", process_id="coach")
    assert kept is not None and kept.content == "bob's secret plan" and not kept.pinned
    pages = ("", "/memories", "/why?q=secret+plan", "/forget")
    for page in pages:
        answer = request(server, "GET", f"/e/alice{page}", cookie=cookie)
        assert answer.status == 200, page
        assert "bob's secret plan" not in answer.body, page
        assert "bob&#x27;s secret plan" not in answer.body, page
    assert request(server, "GET", "/e/nobody", cookie=cookie).status == 404


def test_ids_and_text_are_escaped_and_quoted(mem: Memori, server: UIServer) -> None:
    entity = "<b>ev/il?</b>%"
    m = mem.remember("<script>alert(1)</script>", entity_id=entity)
    cookie = login(server)
    home = request(server, "GET", "/", cookie=cookie)
    assert "<b>ev/il" not in home.body and "&lt;b&gt;ev/il?&lt;/b&gt;%" in home.body
    page = request(server, "GET", f"/e/{quote(entity, safe='')}/m/{m.id}", cookie=cookie)
    assert page.status == 200
    assert "<script>alert" not in page.body and "&lt;script&gt;alert(1)" in page.body


def test_forget_needs_the_typed_id(mem: Memori, server: UIServer) -> None:
    mem.remember("a fact", entity_id="alice")
    cookie = login(server)
    form = {"csrf": server.token.value, "grain": "entity", "confirm": "alic"}
    assert request(server, "POST", "/e/alice/forget", cookie=cookie, form=form).status == 400
    assert mem.list_memories(entity_id="alice")
    form["confirm"] = "alice"
    assert request(server, "POST", "/e/alice/forget", cookie=cookie, form=form).status == 200
    assert not mem.list_memories(entity_id="alice")


def _outside_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: only picks the route's address
            address: str = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_nothing_listens_beyond_loopback(server: UIServer) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1"
    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError):
        socket.create_connection((outside, server.port), timeout=2).close()


def test_cli_prints_the_token_url_and_serves_it(sqlite_url: str) -> None:
    with Memori(sqlite_url, embedder="hash") as m:
        m.remember("likes tea", entity_id="alice")
    proc = subprocess.Popen(
        [sys.executable, "-m", "memori", "--url", sqlite_url, "--embedder", "hash", "ui",
         "--no-browser"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("memori ui: http://127.0.0.1:") and "?token=" in line
        url = line.split(" ", 2)[2]
        port = int(url.split(":")[2].split("/")[0])
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(url, timeout=10) as r:  # the cookie, then the redirect
            assert r.status == 200 and "likes" not in (body := r.read().decode())
            assert "alice" in body and "admin" in body
        with browser.open(f"http://127.0.0.1:{port}/pipeline", timeout=10) as r:
            assert "pipeline.pending" in r.read().decode()  # memori stats' summary
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/e/alice", timeout=10)
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_memory_filters(mem: Memori, server: UIServer) -> None:
    mem.remember("coach note about intervals", entity_id="alice", process_id="coach")
    mem.remember("persona-less note about tea", entity_id="alice")
    mem.remember("pinned planner note", entity_id="alice", process_id="planner", pinned=True)
    mem.remember("shared note about allergies", entity_id="alice", process_id="planner",
                 shared=True, ttl=3600)
    cookie = login(server)

    def shown(query: str) -> set[str]:
        body = request(server, "GET", f"/e/alice/memories?{query}", cookie=cookie).body
        return {word for word in ("intervals", "tea", "pinned planner", "allergies")
                if word in body.split('id="memories"')[1]}

    assert shown("") == {"intervals", "tea", "pinned planner", "allergies"}
    assert shown("persona=") == {"tea"}
    assert shown("persona=coach") == {"intervals"}
    assert shown("pinned=yes") == {"pinned planner"}
    assert shown("shared=yes") == {"allergies"}
    assert shown("expiring=yes") == {"allergies"}
    assert shown("q=NOTE+ABOUT") == {"intervals", "tea", "allergies"}
    assert shown("superseded=only") == set()


def test_browser_is_not_opened_under_ci_or_without_a_display(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from memori.cli import ui_command

    monkeypatch.setenv("CI", "true")
    assert not ui_command._can_open_browser()
    monkeypatch.delenv("CI")
    for name in ui_command.CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert not ui_command._can_open_browser()
    monkeypatch.setenv("DISPLAY", ":0")
    assert ui_command._can_open_browser()


def test_importing_memori_and_its_cli_does_not_import_the_ui() -> None:
    code = ("import sys, memori, memori.cli.app; "
            "print([m for m in sys.modules if m.startswith('memori.ui')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
