"""The entity list (admin: every entity) and one entity's personas and sessions."""

from __future__ import annotations

from typing import Any

from memori.core.summaries import entity_counts
from memori.ui.data import entity_items, summarise
from memori.ui.html import esc, link, page, table, when
from memori.ui.routing import Request, Response, path

LISTED = 500
"""Entities the list shows at most (the most recently active; a search narrows it)."""


def entities(app: Any, request: Request) -> Response:
    """Every entity with its counts and last activity, most recent first (at most
    ``LISTED``); ``q`` filters by id. The store counts them itself where it can."""
    wanted = request.arg("q")
    matching = sorted((c for c in entity_counts(app.mem.store)
                       if wanted.lower() in c.entity_id.lower()),
                      key=lambda c: (-(c.last or 0), c.entity_id))
    shown = matching[:LISTED]
    search = ('<form method="get" action="/"><input type="text" name="q" id="entity-search" '
              f'placeholder="entity id" value="{esc(wanted)}"> <button>Search</button></form>')
    rows = [(link(path("e", c.entity_id), c.entity_id), str(c.memories), str(c.superseded),
             str(c.pinned), str(c.turns), str(c.personas), str(c.sessions), esc(when(c.last)))
            for c in shown]
    body = search + table(["Entity", "Memories", "Superseded", "Pinned", "Turns", "Personas",
                           "Sessions", "Last activity (UTC)"], rows, id_="entities")
    if len(matching) > len(shown):
        body += (f'<p class="muted" id="entities-more">The {len(shown):,} most recently active '
                 f'of {len(matching):,} entities; search by id for the others.</p>')
    if not shown:
        body += '<p class="muted">No entity matches.</p>'
    return Response(page("Entities", body, admin=True))


def entity(app: Any, request: Request, entity: str) -> Response:
    """One entity: its personas and sessions, and links to its pages."""
    turns, memories = entity_items(app.mem, entity)
    summary = summarise([*turns, *memories])[entity]
    base = path("e", entity)
    links = (f"<p>{link(base + '/memories', 'Memories')} · "
             f"{link(base + '/why', 'Why was this recalled?')} · "
             f"{link(base + '/forget', 'Forget…')}</p>")
    tally = summary.tally
    counts = (f"<p>{tally.memories} memories ({tally.superseded} superseded, "
              f"{tally.pinned} pinned), {tally.turns} turns; last activity "
              f"{esc(when(tally.last))} UTC</p>")
    personas = sorted(summary.personas.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    persona_rows = [
        (esc(p) if p is not None else '<span class="muted">(no persona)</span>',
         link(base + "/memories", f"{c[0]} memories", persona=p or ""), str(c[1]),
         link(base + "/why", "why…", persona=p or ""))
        for p, c in personas]
    sessions = sorted(summary.sessions.values(), key=lambda s: -(s.last or 0))
    session_rows = [
        (link(f"{base}/s/{path(s.session_id)[1:]}", s.session_id, persona=s.process_id or ""),
         esc(s.process_id or ""), str(s.turns), esc(when(s.first)), esc(when(s.last)))
        for s in sessions]
    body = (counts + links + "<h2>Personas</h2>"
            + table(["Persona", "Memories", "Turns", ""], persona_rows, id_="personas")
            + "<h2>Sessions</h2>"
            + table(["Session", "Persona", "Turns", "First (UTC)", "Last (UTC)"], session_rows,
                    id_="sessions"))
    return Response(page(f"Entity {entity}", body))
