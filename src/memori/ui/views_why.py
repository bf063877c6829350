""""Why was this recalled?": a question asked as a chosen scope, the hits with each
signal, the relevance floor, and the block the LLM path would inject for it.

The block comes from the LLM path itself (``MemoryEngine.plan`` of a chat request made
of the question): the same history, pinned memories, budget and floor as a real call.
"""

from __future__ import annotations

from typing import Any

from memori.core import Hit, Memory, Scope, SupportsMinRelevance
from memori.core.models import new_id
from memori.ui.data import entity_items
from memori.ui.html import esc, link, page, table
from memori.ui.routing import Request, Response, path

PREVIEW_MODEL = "memori-ui-preview"


def _form(entity: str, personas: list[str], sessions: list[str], request: Request) -> str:
    chosen = request.query.get("persona", "")
    opts = "".join(f'<option value="{esc(p)}"{" selected" if p == chosen else ""}>'
                   f'{esc(p or "(no persona)")}</option>' for p in ["", *personas])
    session = request.query.get("session", "")
    known = "".join(f'<option value="{esc(s)}">' for s in sessions)
    return (f'<form method="get" id="why-form" action="{esc(path("e", entity, "why"))}">'
            f'<label>persona <select name="persona" id="why-persona">{opts}</select></label> '
            '<label>session <input type="text" name="session" id="why-session" '
            f'list="sessions" value="{esc(session)}" placeholder="(a new session)"></label>'
            f'<datalist id="sessions">{known}</datalist><br>'
            '<label>question <input type="text" name="q" id="why-q" size="80" '
            f'value="{esc(request.arg("q"))}"></label> <button id="why-ask">Ask</button></form>')


def _hit_rows(entity: str, hits: list[Hit], names: list[str],
              floor: float | None) -> list[tuple[str, ...]]:
    rows = []
    for rank, hit in enumerate(hits, 1):
        item = hit.item
        relevance = hit.signals.get("relevance")
        below = floor is not None and relevance is not None and relevance < floor
        what = link(path("e", entity, "m", item.id), item.content) if isinstance(item, Memory) \
            else esc(item.content) + f' <span class="muted">({esc(item.role)} turn)</span>'
        if isinstance(item, Memory) and item.pinned:
            verdict = "pinned: always first"
        else:
            verdict = '<span class="below">below floor</span>' if below else "above floor"
        rows.append((str(rank), what, f"<b>{hit.score:.3f}</b>", verdict,
                     *(f"{hit.signals[n]:.3f}" if n in hit.signals else "" for n in names)))
    return rows


def why(app: Any, request: Request, entity: str) -> Response:
    mem = app.mem
    turns, memories = entity_items(mem, entity)
    personas = sorted({t.process_id for t in turns if t.process_id is not None}
                      | {m.process_id for m in memories if m.process_id is not None})
    sessions = sorted({t.session_id for t in turns})
    body = (f'<p>{link(path("e", entity), "← entity")}</p>'
            + _form(entity, personas, sessions, request))
    question = request.arg("q")
    if question:
        persona = request.query.get("persona") or None
        session = request.query.get("session") or None
        floor = (mem.retriever.min_relevance
                 if isinstance(mem.retriever, SupportsMinRelevance) else None)
        with mem.attribution(entity, persona, session or new_id()):
            hits = mem.recall(question, min_relevance=0.0)
        scope = Scope(entity, persona, session or new_id())
        plan = mem.llm.engine.plan(
            _chat_api(), scope,
            {"model": PREVIEW_MODEL, "messages": [{"role": "user", "content": question}]})
        names = sorted({n for h in hits for n in h.signals})
        floor_text = f"{floor:.2f}" if isinstance(floor, float) else "none (this retriever)"
        body += (f'<p>Scope: entity <b>{esc(entity)}</b>, persona <b>{esc(persona or "none")}'
                 f'</b>, session <b>{esc(session or "a new one (no history)")}</b>. '
                 f'Relevance floor: <b id="floor">{esc(floor_text)}</b> (hits whose '
                 "relevance is below it are not injected). Score: the fused score.</p>"
                 "<h2>Hits</h2>"
                 + table(["#", "Hit", "Score", "Floor", *names],
                         _hit_rows(entity, hits, names, floor), id_="hits"))
        block = plan.block
        if block is None:
            body += '<h2>Injected block</h2><p id="no-block">Nothing would be injected.</p>'
        else:
            body += (f'<h2>Injected block: <span id="block-tokens">{block.tokens}</span> '
                     f"tokens (budget {mem.token_budget}; {block.pinned} pinned, "
                     f"{block.memories} memories, {block.history} history turns)</h2>"
                     f'<pre class="block" id="block">{esc(block.text)}</pre>')
    return Response(page(f"Why was this recalled? ({entity})", body))


def _chat_api() -> Any:
    from memori.llm.chat import CHAT

    return CHAT
