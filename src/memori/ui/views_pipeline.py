"""The write path (admin: every entity): pending and parked turns with reasons, retry."""

from __future__ import annotations

from typing import Any

from memori.core import Turn
from memori.ui.html import esc, link, page, post_form, table, when
from memori.ui.routing import Request, Response, path

SHOWN = 200


def _rows(turns: list[Turn]) -> list[tuple[str, ...]]:
    return [(link(path("e", t.entity_id), t.entity_id), esc(t.process_id or ""),
             link(path("e", t.entity_id, "s", t.session_id), t.session_id,
                  persona=t.process_id or ""),
             esc(t.role), esc(t.content[:200]), esc(t.extract_attempts),
             f'<span class="err">{esc(t.extract_error or "")}</span>', esc(when(t.created_at)))
            for t in turns]


def pipeline(app: Any, request: Request) -> Response:
    store = app.mem.store
    pending = store.outbox_pending(SHOWN)
    parked = store.outbox_parked(SHOWN)
    headings = ["Entity", "Persona", "Session", "Role", "Text", "Attempts", "Reason",
                "Recorded (UTC)"]
    retry = post_form("/pipeline/retry", app.token.value,
                      '<button id="retry">Retry parked turns</button>')
    done = request.arg("requeued")
    notice = f"Queued {done} turns again; the application extracts them when it runs." \
        if done else ""
    summary = dict(app.report()) if app.report is not None else {
        "pipeline.pending": store.admin_stats().get("outbox_pending")}
    body = (table(["", ""], [(esc(k), esc(v)) for k, v in summary.items()], id_="summary")
            + f"<h2>Pending ({len(pending)}{'+' if len(pending) == SHOWN else ''})</h2>"
            "<p class=\"muted\">Turns waiting for extraction.</p>"
            + table(headings, _rows(pending), id_="pending")
            + f"<h2>Parked ({len(parked)}{'+' if len(parked) == SHOWN else ''})</h2>"
            "<p class=\"muted\">Turns whose extraction failed too often; the reason is the "
            "last error.</p>" + table(headings, _rows(parked), id_="parked") + retry)
    return Response(page("Pipeline", body, admin=True, notice=notice))


def retry(app: Any, request: Request) -> Response:
    """Queue parked and set-aside turns again (as ``memori retry --no-extract``)."""
    count = app.mem.retry()
    return Response.redirect(f"/pipeline?requeued={int(count)}")
