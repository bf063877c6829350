"""The UI's token: every request carries it (cookie, or ``?token=`` which sets the
cookie), and every form that changes data sends it back as its CSRF field."""

from __future__ import annotations

import hmac
import secrets

from memori.ui.routing import Request

COOKIE = "memori_ui_token"
FIELD = "csrf"


class Token:
    """A random secret made when the server starts; never stored."""

    def __init__(self, value: str | None = None) -> None:
        self.value = value or secrets.token_urlsafe(24)

    def _same(self, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(given.encode(), self.value.encode())

    def from_query(self, request: Request) -> bool:
        """The token came in the URL (the cookie is then set from it)."""
        return self._same(request.query.get("token"))

    def allows(self, request: Request) -> bool:
        """The request carries the token, as cookie or in the query."""
        return self._same(request.cookies.get(COOKIE)) or self.from_query(request)

    def csrf_ok(self, request: Request) -> bool:
        """A POST form sent the token back (a cookie alone does not prove the page)."""
        return self._same(request.form.get(FIELD))

    def cookie(self) -> str:
        return f"{COOKIE}={self.value}; Path=/; HttpOnly; SameSite=Strict"
