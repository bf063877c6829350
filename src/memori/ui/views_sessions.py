"""A session's conversation: its turns in order, tool calls shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memori.core import Turn
from memori.ui.data import entity_items
from memori.ui.html import esc, link, page, when
from memori.ui.routing import NotFound, Request, Response, path


def _tool_calls(turn: Turn) -> str:
    shown = []
    for call in turn.metadata.get("tool_calls", ()) or ():
        if not isinstance(call, Mapping):
            continue
        inner = call.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else call
        shown.append(f'<li class="tool-call"><code>{esc(fn.get("name"))}'
                     f'({esc(fn.get("arguments"))})</code> <span class="muted">'
                     f'{esc(call.get("id") or "")}</span></li>')
    return f"<ul>{''.join(shown)}</ul>" if shown else ""


def session(app: Any, request: Request, entity: str, session: str) -> Response:
    """The session's turns (of the persona given, else of every persona), oldest first."""
    turns, _ = entity_items(app.mem, entity)
    persona = request.query.get("persona")
    shown = sorted((t for t in turns if t.session_id == session
                    and (persona is None or t.process_id == (persona or None))),
                   key=lambda t: t.created_at)
    if not shown:
        raise NotFound(session)
    items = []
    for t in shown:
        called = t.metadata.get("tool_call_id")
        about = f' <span class="muted">result of {esc(called)}</span>' if called else ""
        state = t.extract_state.value if hasattr(t.extract_state, "value") else t.extract_state
        items.append(
            f'<div class="turn {esc(t.role)}"><b>{esc(t.role)}</b>{about} '
            f'<span class="muted">{esc(when(t.created_at))} UTC · {esc(t.process_id or "")} '
            f'· extraction {esc(state)}</span>'
            f'<div class="content">{esc(t.content)}</div>{_tool_calls(t)}</div>')
    back = link(path("e", entity), "← entity")
    why = link(path("e", entity, "why"), "Why was this recalled? (this session)",
               persona=persona, session=session)
    body = f"<p>{back} · {why}</p><div id=\"conversation\">{''.join(items)}</div>"
    return Response(page(f"Session {session}", body))
