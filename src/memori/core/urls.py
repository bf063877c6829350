"""URL helpers that never leak a password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def url_scheme(url: str) -> str:
    """The scheme of ``url`` in lower case, or ``""`` when it has none."""
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else ""


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs, reprs and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None and "@" not in parts.netloc:
        return url
    netloc = parts.netloc
    userinfo, _, hostinfo = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    redacted = f"{user}:***@{hostinfo}" if ":" in userinfo else f"{user}@{hostinfo}"
    return urlunsplit((parts.scheme, redacted, parts.path, parts.query, parts.fragment))


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)([^@\s]+)@")
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\"[^\"]*\"|\S+)", re.I)


def redact_text(text: str) -> str:
    """``text`` (an error message, a DSN) with passwords of URLs and ``password=`` masked."""
    return _DSN_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))
