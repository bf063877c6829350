"""The input rules every entry point applies before anything is stored (one place, every backend).

- Text (turn and memory content, queries): a ``str``; NUL and lone surrogates, which
  some backends cannot hold (PostgreSQL refuses NUL, UTF-8 has no surrogates), are
  replaced by U+FFFD, so the same text is stored the same way everywhere; at most
  ``max_chars`` characters (``ValueError`` beyond, or :func:`truncate_text` where
  the caller must not fail, as on the LLM path).
- Metadata: a mapping with ``str`` keys whose values JSON can hold exactly: no NaN or
  infinity, no objects JSON does not know, at most ``MAX_METADATA_BYTES`` encoded.
- Limits: a positive ``int`` of at most ``MAX_LIMIT``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_CONTENT_CHARS = 2_000_000
"""Default cap on one turn's or memory's text (characters); ``Memori(max_content_chars=)``."""

MAX_METADATA_BYTES = 65_536
"""Cap on one item's metadata, JSON-encoded."""

MAX_LIMIT = 1000
"""Largest ``limit`` a read or search accepts."""

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: Any, name: str = "content", *, max_chars: int = MAX_CONTENT_CHARS) -> str:
    """``value`` as storable text: NUL and lone surrogates replaced by U+FFFD.

    ``ValueError`` naming ``name`` when it is not a ``str`` or longer than ``max_chars``
    (checked first, so an oversized text is refused before it is scanned).
    """
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__}")
    if len(value) > max_chars:
        raise ValueError(
            f"{name} is {len(value):,} characters, more than the limit of {max_chars:,} "
            "(raise it with Memori(max_content_chars=...))"
        )
    return storable_text(value)


def truncate_text(value: str, *, max_chars: int = MAX_CONTENT_CHARS) -> tuple[str, int | None]:
    """Storable text cut to ``max_chars``, and the original length when it was cut."""
    if len(value) <= max_chars:
        return storable_text(value), None
    return storable_text(value[:max_chars]), len(value)


def storable_text(value: str) -> str:
    """``value`` with NUL and lone surrogates replaced by U+FFFD (the same object if none)."""
    if "\x00" not in value and (value.isascii() or _encodable(value)):
        return value
    return _UNSTORABLE.sub(REPLACEMENT, value)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_metadata(value: Any, name: str = "metadata") -> dict[str, Any]:
    """A JSON-exact copy of ``value`` (a mapping with str keys); ``ValueError`` naming the
    field when it holds NaN/infinity, a non-JSON object, a lone surrogate or too many bytes."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict, got {type(value).__name__}")
    try:
        encoded = json.dumps(dict(value), allow_nan=False, ensure_ascii=False)
        encoded.encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be JSON-serialisable with finite numbers and "
                         f"str keys ({type(e).__name__}: {e})") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ValueError(f"{name} is {len(encoded):,} bytes as JSON, more than "
                         f"{MAX_METADATA_BYTES:,}")
    copy: dict[str, Any] = json.loads(encoded)
    if set(copy) != set(value):  # json turns non-str keys into str silently
        raise ValueError(f"{name} keys must be str")
    return copy


def coerce_metadata(value: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata the LLM path builds, made JSON-exact instead of refused (the call must not
    fail): non-finite numbers become None, unknown objects and keys their ``str``."""
    try:
        return check_metadata(value)
    except ValueError:
        pass
    encoded = json.dumps(_finite(value), default=str, ensure_ascii=False)
    if len(encoded) > MAX_METADATA_BYTES:
        return {"metadata_dropped": len(encoded)}
    coerced: dict[str, Any] = json.loads(storable_text(encoded))
    return coerced


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def check_limit(value: Any, name: str = "limit", *, maximum: int = MAX_LIMIT) -> int:
    """``value`` if it is an ``int`` in 1..``maximum``, else ``ValueError`` naming ``name``."""
    if type(value) is not int:
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
    return value
