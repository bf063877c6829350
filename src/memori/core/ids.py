"""Validation of scope ids: ids are data, never syntax."""

from __future__ import annotations

from typing import Any

from memori.core.errors import InvalidIdError

MAX_ID_LENGTH = 255


def check_id(value: Any, name: str = "entity_id") -> str:
    """Return ``value`` if it is a valid id, else raise :class:`InvalidIdError`.

    A valid id is a ``str`` of 1..255 characters that every backend can store and
    compare whole: no NUL, no lone surrogate (not encodable as UTF-8), and not only
    whitespace. Ids are never stripped or normalised: ``" a"`` and ``"a"`` differ.
    """
    if type(value) is not str:
        raise InvalidIdError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidIdError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(f"{name} must be at most {MAX_ID_LENGTH} characters, got {len(value)}")
    if "\x00" in value:
        raise InvalidIdError(f"{name} must not contain NUL")
    if value.isspace():
        raise InvalidIdError(f"{name} must not be only whitespace")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidIdError(
                f"{name} must be valid Unicode text (it holds a lone surrogate)"
            ) from None
    return value


def check_optional_id(value: Any, name: str) -> str | None:
    """Like :func:`check_id` but ``None`` is allowed and means "not set"."""
    if value is None:
        return None
    return check_id(value, name)
