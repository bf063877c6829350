"""Page layout and HTML pieces. Every value shown goes through :func:`esc`."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from urllib.parse import urlencode

from memori.ui.auth import FIELD

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#23395d;color:#fff;padding:.6em 1.2em}
header a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em 1.5em;max-width:1200px}
table{border-collapse:collapse;width:100%;margin:.6em 0;background:#fff}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eef1f6}
.admin{background:#b3261e;color:#fff;border-radius:4px;padding:0 .4em;font-size:.8em}
.muted{color:#777}.below{color:#999}.ok{color:#1e7b34}.err{color:#b3261e}
.block{white-space:pre-wrap;background:#fff;border:1px solid #ccc;padding:.6em}
.turn{border-left:3px solid #9ab;padding:.2em .6em;margin:.4em 0;background:#fff}
.turn.assistant{border-color:#6a6}.turn.tool{border-color:#c93}
form.inline{display:inline}
input[type=text],textarea,select{font:inherit}
textarea{width:100%;min-height:5em}
.danger{background:#b3261e;color:#fff;border:0;padding:.3em .8em}
#hits td:nth-child(2){min-width:16em}#memories td:first-child{min-width:22em}
"""


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, for attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "?"


def link(href: str, text: object, **query: str | None) -> str:
    """A link; query values of None are left out ('' is kept: no persona)."""
    kept = {k: v for k, v in query.items() if v is not None}
    target = f"{href}?{urlencode(kept)}" if kept else href
    return f'<a href="{esc(target)}">{esc(text)}</a>'


def table(headings: Sequence[str], rows: Iterable[Sequence[str]], *, id_: str = "") -> str:
    """A table; cells are HTML already (escape values before)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{esc(id_)}"' if id_ else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def post_form(action: str, token: str, inner: str, *, id_: str = "",
              inline: bool = False) -> str:
    """A POST form carrying the CSRF token."""
    attrs = f' id="{esc(id_)}"' if id_ else ""
    attrs += ' class="inline"' if inline else ""
    hidden = f'<input type="hidden" name="{FIELD}" value="{esc(token)}">'
    return f'<form method="post" action="{esc(action)}"{attrs}>{hidden}{inner}</form>'


def page(title: str, body: str, *, admin: bool = False, notice: str = "") -> str:
    """A whole page; ``admin``: it shows data of every entity, and says so."""
    badge = ' <span class="admin" id="admin">admin: all entities</span>' if admin else ""
    note = f'<p class="ok" id="notice">{esc(notice)}</p>' if notice else ""
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} - memori</title><style>{STYLE}</style></head><body>"
        '<header><a href="/"><b>memori</b></a><a href="/">Entities</a>'
        '<a href="/pipeline">Pipeline</a></header>'
        f"<main><h1>{esc(title)}{badge}</h1>{note}{body}</main></body></html>"
    )
