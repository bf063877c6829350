"""An entity's memories: filtered list, one memory with its history, edit, pin, delete."""

from __future__ import annotations

import time
from typing import Any

from memori.core import Memory
from memori.ui.data import entity_items, find_memory
from memori.ui.html import esc, link, page, post_form, table, when
from memori.ui.routing import BadRequest, Request, Response, path

ANY = "*"
NOTICES = {"edited": "Saved.", "pinned": "Pinned.", "unpinned": "Unpinned."}


def _options(name: str, choices: list[tuple[str, str]], chosen: str) -> str:
    opts = "".join(f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(t)}'
                   "</option>" for v, t in choices)
    return (f'<label>{esc(name)} <select name="{esc(name)}" id="f-{esc(name)}">{opts}'
            "</select></label> ")


def _keep(m: Memory, request: Request, at: float) -> bool:
    persona = request.query.get("persona", ANY)
    if persona != ANY and m.process_id != (persona or None):
        return False
    kind = request.arg("kind")
    if kind and m.kind != kind:
        return False
    superseded = request.arg("superseded") or "current"
    if (superseded == "current" and m.superseded_by) or \
            (superseded == "only" and not m.superseded_by):
        return False
    rules = {"shared": m.shared, "pinned": m.pinned}
    for name, value in rules.items():
        wanted = request.arg(name)
        if wanted and (wanted == "yes") != value:
            return False
    expiring = request.arg("expiring")
    expired = m.expires_at is not None and m.expires_at <= at
    if (expiring == "yes" and (m.expires_at is None or expired)) or \
            (expiring == "expired" and not expired) or (expiring == "never" and m.expires_at):
        return False
    text = request.arg("q").lower()
    return not text or text in m.content.lower()


def memories(app: Any, request: Request, entity: str) -> Response:
    """The entity's memories of every persona, newest first, with filters."""
    _, found = entity_items(app.mem, entity)
    at = time.time()
    shown = sorted((m for m in found if _keep(m, request, at)),
                   key=lambda m: (m.created_at, m.id), reverse=True)
    personas = sorted({m.process_id or "" for m in found})
    kinds = sorted({m.kind for m in found})
    yes_no = [("", "any"), ("yes", "yes"), ("no", "no")]
    filters = (
        f'<form method="get" id="filters" action="{esc(path("e", entity, "memories"))}">'
        + _options("persona", [(ANY, "any"), *((p, p or "(no persona)") for p in personas)],
                   request.query.get("persona", ANY))
        + _options("kind", [("", "any"), *((k, k) for k in kinds)], request.arg("kind"))
        + _options("shared", yes_no, request.arg("shared"))
        + _options("superseded", [("current", "current only"), ("all", "current and "
                                  "superseded"), ("only", "superseded only")],
                   request.arg("superseded") or "current")
        + _options("pinned", yes_no, request.arg("pinned"))
        + _options("expiring", [("", "any"), ("yes", "expiring"), ("never", "never expires"),
                                ("expired", "expired")], request.arg("expiring"))
        + '<input type="text" name="q" id="f-q" placeholder="text" '
        f'value="{esc(request.arg("q"))}">'
        ' <button id="apply">Filter</button></form>')
    rows = [(link(path("e", entity, "m", m.id), m.content), esc(m.process_id or ""),
             esc(m.kind), "shared" if m.shared else "", "📌 pinned" if m.pinned else "",
             esc(when(m.expires_at)), "superseded" if m.superseded_by else "current",
             esc(when(m.created_at))) for m in shown]
    body = (f'<p>{link(path("e", entity), "← entity")}</p>' + filters
            + f"<p>{len(shown)} of {len(found)} memories</p>"
            + table(["Memory", "Persona", "Kind", "Shared", "Pinned", "Expires (UTC)", "State",
                     "Created (UTC)"], rows, id_="memories"))
    notice = "Deleted." if request.arg("done") == "deleted" else ""
    return Response(page(f"Memories of {entity}", body, notice=notice))


def memory(app: Any, request: Request, entity: str, memory: str) -> Response:
    """One memory: its fields, history, and the forms that change it."""
    m = find_memory(app.mem, entity, memory)
    history = app.mem.memory_history(m.id, entity_id=entity, process_id=m.process_id)
    token = app.token.value
    base = path("e", entity, "m", m.id)
    fields = table(["Field", "Value"], [
        ("id", esc(m.id)), ("persona", esc(m.process_id or "(none)")), ("kind", esc(m.kind)),
        ("shared", esc(m.shared)), ("pinned", esc(m.pinned)),
        ("expires (UTC)", esc(when(m.expires_at) or "never")),
        ("session", esc(m.session_id or "")), ("created (UTC)", esc(when(m.created_at))),
        ("updated (UTC)", esc(when(m.updated_at))), ("seen", esc(m.count)),
        ("superseded by", link(path("e", entity, "m", m.superseded_by), m.superseded_by)
         if m.superseded_by else ""),
        ("metadata", esc(dict(m.metadata)))], id_="fields")
    chain = table(["When (UTC)", "Memory", "State"], [
        (esc(when(h.created_at)),
         esc(h.content) if h.id == m.id else link(path("e", entity, "m", h.id), h.content),
         "this one" if h.id == m.id else ("superseded" if h.superseded_by else "current"))
        for h in history], id_="history")
    edit = post_form(base + "/edit", token,
                     f'<textarea name="content" id="content">{esc(m.content)}</textarea>'
                     f'<label>kind <input type="text" name="kind" value="{esc(m.kind)}"></label> '
                     '<label><input type="checkbox" name="shared" value="1"'
                     f'{" checked" if m.shared else ""}> shared</label> '
                     '<button id="save">Save</button>', id_="edit")
    pin = post_form(base + ("/unpin" if m.pinned else "/pin"), token,
                    f'<button id="{"unpin" if m.pinned else "pin"}">'
                    f'{"Unpin" if m.pinned else "Pin"}</button>', inline=True)
    delete = post_form(base + "/delete", token, '<button class="danger" id="delete">'
                       "Delete…</button>", inline=True)
    body = (f'<p>{link(path("e", entity, "memories"), "← memories")}</p>'
            + f'<p class="block" id="memory-content">{esc(m.content)}</p>'
            + f"<p>{pin} {delete}</p>" + "<h2>Edit</h2>" + edit + fields
            + "<h2>History</h2>" + chain)
    return Response(page("Memory", body, notice=NOTICES.get(request.arg("done"), "")))


def edit(app: Any, request: Request, entity: str, memory: str) -> Response:
    m = find_memory(app.mem, entity, memory)
    content = request.form.get("content", "").strip()
    if not content:
        raise BadRequest("the memory's text must not be empty")
    app.mem.update_memory(m.id, entity_id=entity, process_id=m.process_id, content=content,
                          kind=request.form.get("kind", "").strip() or m.kind,
                          shared=request.form.get("shared") == "1")
    return Response.redirect(path("e", entity, "m", m.id) + "?done=edited")


def pin(app: Any, request: Request, entity: str, memory: str) -> Response:
    m = find_memory(app.mem, entity, memory)
    app.mem.update_memory(m.id, entity_id=entity, process_id=m.process_id, pinned=True)
    return Response.redirect(path("e", entity, "m", m.id) + "?done=pinned")


def unpin(app: Any, request: Request, entity: str, memory: str) -> Response:
    m = find_memory(app.mem, entity, memory)
    app.mem.update_memory(m.id, entity_id=entity, process_id=m.process_id, pinned=False)
    return Response.redirect(path("e", entity, "m", m.id) + "?done=unpinned")


def delete(app: Any, request: Request, entity: str, memory: str) -> Response:
    """Deletes only with ``confirm=yes``; without it, the page asking for it."""
    m = find_memory(app.mem, entity, memory)
    if request.form.get("confirm") != "yes":
        form = post_form(path("e", entity, "m", m.id, "delete"), app.token.value,
                         '<input type="hidden" name="confirm" value="yes">'
                         '<button class="danger" id="confirm-delete">Delete it</button> '
                         + link(path("e", entity, "m", m.id), "Cancel"))
        body = f'<p>Delete this memory for good?</p><p class="block">{esc(m.content)}</p>{form}'
        return Response(page("Delete memory?", body))
    app.mem.delete_memory(m.id, entity_id=entity, process_id=m.process_id)
    return Response.redirect(path("e", entity, "memories") + "?done=deleted")
