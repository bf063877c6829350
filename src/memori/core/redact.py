"""Secrets out of everything memori shows: reprs, logs, errors and CLI output.

One routine masks passwords, API keys and tokens wherever they sit: the
``user:password@`` of a URL, credential query parameters (``?password=``,
``?api_key=``), libpq keyword DSNs (``host=h password='a b'``), ``Authorization``
headers, and client options given as keywords. User names, hosts and database
names stay visible; so does Mongo's ``authSource`` (a database name).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus

MASK = "***"

_SECRET_NAMES = frozenset({
    "password", "passwd", "pwd", "sslpassword", "api_key", "apikey", "api-key", "token",
    "access_token", "secret", "client_secret", "auth", "authorization",
})
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "api_key", "apikey", "api-key")

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)(.*)$", re.S)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s/?#]+@")
_VALUE = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&,;'"]+"""
_PAIR = re.compile(
    rf"""(?<![\w.\-])([A-Za-z_][\w.\-]*)(["']?\s*[=:]\s*)((?:Bearer|Basic|Token)\s+)?({_VALUE})"""
)

_MASKED = re.compile(r"\*\*\*[)\]>.:]*")


def is_secret_key(name: str) -> bool:
    """Whether an option or parameter called ``name`` carries a credential."""
    key = name.strip().lower()
    return key in _SECRET_NAMES or key.endswith(_SECRET_SUFFIXES)


def _mask_pair(m: re.Match[str]) -> str:
    key, value = m.group(1), m.group(4)
    if not is_secret_key(key):
        value = _PAIR.sub(_mask_pair, value)
    elif not _MASKED.fullmatch(value):  # masking twice keeps the punctuation after the mask
        value = MASK
    return f"{key}{m.group(2)}{m.group(3) or ''}{value}"


def redact_text(text: str) -> str:
    """``text`` (a message, a DSN, a URL) with every credential it spells out masked."""
    return _PAIR.sub(_mask_pair, _URL_USERINFO.sub(rf"\1{MASK}@", text))


def redact_url(url: str) -> str:
    """``url`` (or a libpq keyword DSN) with its password and credential parameters masked."""
    m = _URL.match(url)
    if m is None:
        return redact_text(url)
    scheme, netloc, rest = m.groups()
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hosts}" if colon else f"{user}@{hosts}"
    return scheme + netloc + redact_text(rest)


def secrets_in(url: str) -> tuple[str, ...]:
    """The credential values a URL or DSN holds, raw and decoded, to scrub them from any text."""
    found: list[str] = []
    m = _URL.match(url)
    if m is not None and "@" in m.group(2):
        userinfo = m.group(2).rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    for pair in _PAIR.finditer(url if m is None else m.group(3)):
        if is_secret_key(pair.group(1)):
            found.append(pair.group(4).strip("'\""))
    return _variants(found)


def _variants(values: Iterable[str]) -> tuple[str, ...]:
    out: set[str] = set()
    for value in values:
        out.update(v for v in (value, unquote(value), unquote_plus(value)) if len(v) >= 3)
    return tuple(sorted(out, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``redact_text(text)`` with the given secret values also masked wherever they appear."""
    text = redact_text(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Client options safe to show: credential values masked, nested mappings too."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if is_secret_key(str(key)) and value is not None:
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = redact_options(value)
        elif isinstance(value, str):
            out[key] = redact_url(value)
        else:
            out[key] = value
    return out


def option_secrets(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The credential values among client options (nested mappings included)."""
    found: list[str] = []
    for key, value in options.items():
        if isinstance(value, Mapping):
            found.extend(option_secrets(value))
        elif isinstance(value, str):
            found.extend([value] if is_secret_key(str(key)) else secrets_in(value))
    return _variants(found)


class RedactingFilter(logging.Filter):
    """A logging filter (put it on a handler) that masks credentials in messages and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_text(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
