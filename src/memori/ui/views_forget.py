"""Forget a persona, a session or the whole entity, confirmed by typing the id."""

from __future__ import annotations

from typing import Any

from memori.ui.data import entity_items, summarise
from memori.ui.html import esc, link, page, post_form
from memori.ui.routing import BadRequest, Request, Response, path

GRAINS = ("session", "persona", "entity")


def forget_page(app: Any, request: Request, entity: str) -> Response:
    turns, memories = entity_items(app.mem, entity)
    summary = summarise([*turns, *memories])[entity]
    sessions = sorted({s.session_id for s in summary.sessions.values()})
    personas = sorted(p for p in summary.personas if p is not None)
    token = app.token.value
    action = path("e", entity, "forget")

    def form(grain: str, choices: list[str], text: str) -> str:
        pick = ""
        if choices:
            opts = "".join(f'<option value="{esc(c)}">{esc(c)}</option>' for c in choices)
            pick = f'<select name="target" id="{grain}-target">{opts}</select> '
        return "<h2>" + esc(text) + "</h2>" + post_form(
            action, token, f'<input type="hidden" name="grain" value="{grain}">{pick}'
            f'<label>type the {grain} id to confirm <input type="text" name="confirm" '
            f'id="{grain}-confirm" autocomplete="off"></label> '
            f'<button class="danger" id="forget-{grain}">Forget</button>',
            id_=f"forget-{grain}-form")

    body = (f'<p>{link(path("e", entity), "← entity")}</p>'
            + (form("session", sessions, "A session: its turns and the memories from them alone")
               if sessions else "")
            + (form("persona", personas, "A persona: its turns and memories (shared ones "
                    "too); the persona-less memories stay") if personas else "")
            + form("entity", [], "The whole entity: everything (GDPR erasure)"))
    return Response(page(f"Forget data of {entity}", body))


def forget(app: Any, request: Request, entity: str) -> Response:
    entity_items(app.mem, entity)  # 404 when there is nothing
    grain = request.form.get("grain", "")
    if grain not in GRAINS:
        raise BadRequest("choose a session, a persona or the entity")
    target = entity if grain == "entity" else request.form.get("target", "")
    if not target or request.form.get("confirm", "") != target:
        raise BadRequest(f"type the {grain} id exactly to confirm; nothing was forgotten")
    if grain == "session":
        removed = app.mem.forget(entity_id=entity, session_id=target)
    elif grain == "persona":
        removed = app.mem.forget(entity_id=entity, process_id=target)
    else:
        removed = app.mem.forget(entity_id=entity)
        body = f'<p id="forgotten">Forgot entity {esc(entity)}: {removed} items removed.</p>'
        return Response(page("Forgotten", body + link("/", "← entities")))
    body = (f'<p id="forgotten">Forgot {grain} {esc(target)}: {removed} items removed.</p>'
            + link(path("e", entity), "← entity"))
    return Response(page("Forgotten", body))
