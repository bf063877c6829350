"""URL helpers; redaction lives in :mod:`memori.core.redact` (re-exported here)."""

from __future__ import annotations

import re

from memori.core.redact import redact_text, redact_url

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def url_scheme(url: str) -> str:
    """The scheme of ``url`` in lower case, or ``""`` when it has none."""
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else ""


__all__ = ["redact_text", "redact_url", "url_scheme"]
