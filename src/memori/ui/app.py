"""The UI application: token check, CSRF check, routing, errors as pages."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from memori.core import NotFoundError
from memori.ui import views_entities, views_forget, views_memories, views_why
from memori.ui import views_pipeline as views_pipeline
from memori.ui import views_sessions as views_sessions
from memori.ui.auth import Token
from memori.ui.html import esc, page
from memori.ui.routing import BadRequest, NotFound, Request, Response, Router

ROUTES = (
    ("GET", "/", views_entities.entities),
    ("GET", "/e/{entity}", views_entities.entity),
    ("GET", "/e/{entity}/memories", views_memories.memories),
    ("GET", "/e/{entity}/m/{memory}", views_memories.memory),
    ("POST", "/e/{entity}/m/{memory}/edit", views_memories.edit),
    ("POST", "/e/{entity}/m/{memory}/pin", views_memories.pin),
    ("POST", "/e/{entity}/m/{memory}/unpin", views_memories.unpin),
    ("POST", "/e/{entity}/m/{memory}/delete", views_memories.delete),
    ("GET", "/e/{entity}/s/{session}", views_sessions.session),
    ("GET", "/e/{entity}/why", views_why.why),
    ("GET", "/e/{entity}/forget", views_forget.forget_page),
    ("POST", "/e/{entity}/forget", views_forget.forget),
    ("GET", "/pipeline", views_pipeline.pipeline),
    ("POST", "/pipeline/retry", views_pipeline.retry),
)


@dataclass
class App:
    """A ``Memori`` on the store, the token, and the routes."""

    mem: Any
    token: Token
    report: Callable[[], Mapping[str, Any]] | None = None
    """The write path's summary for the pipeline page (``memori stats``' pipeline keys)."""

    def __post_init__(self) -> None:
        self.router = Router()
        for method, pattern, view in ROUTES:
            self.router.add(method, pattern, functools.partial(view, self))

    def handle(self, request: Request) -> Response:
        if not self.token.allows(request):
            return Response(page("Forbidden", "<p>Open the URL with the token that "
                                 "<code>memori ui</code> printed.</p>"), 403)
        if request.method == "GET" and self.token.from_query(request):
            # the token leaves the address bar (and history) once it is a cookie
            kept = urlencode({k: v for k, v in request.query.items() if k != "token"})
            response = Response.redirect(request.path + (f"?{kept}" if kept else ""))
            response.headers["Set-Cookie"] = self.token.cookie()
            return response
        if request.method == "POST" and not self.token.csrf_ok(request):
            return Response(page("Forbidden", "<p>The form's token is missing or wrong.</p>"),
                            403)
        try:
            view, params = self.router.resolve(request)
            return view(request, **params)
        except (NotFound, NotFoundError):
            return Response(page("Not found", "<p>Nothing here.</p>"), 404)
        except (BadRequest, ValueError) as e:
            return Response(page("Bad request", f'<p class="err">{esc(e)}</p>'), 400)
