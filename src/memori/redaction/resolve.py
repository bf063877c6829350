"""Turn the user's ``redactor=`` setting into a redactor object (or None: no redaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memori.core import ConfigurationError, Redactor, get_plugins
from memori.redaction.chain import ChainRedactor

RedactorSetting = Redactor | str | Sequence[Redactor | str] | None


def _by_name(name: str, options: dict[str, Any]) -> Redactor:
    spec = get_plugins().redactors.get(name)
    if spec is None:
        known = ", ".join(["none", *sorted(get_plugins().redactors)])
        raise ConfigurationError(f"unknown redactor {name!r}; registered names: {known}")
    redactor: Redactor = spec.load()(**options)
    return redactor


def _one(value: Redactor | str, options: dict[str, Any]) -> Redactor:
    if isinstance(value, str):
        return _by_name(value.strip(), options)
    if callable(getattr(value, "redact", None)):
        return value
    raise ConfigurationError(f"redactor must be a name or have redact(); got {value!r}")


def resolve_redactor(value: RedactorSetting, **options: Any) -> Redactor | None:
    """None/"none" -> no redaction; a registered name ("secrets") -> a new one; an
    object with ``redact`` -> it; ``"a,b"`` or a list of those -> a :class:`ChainRedactor`.

    ``options`` go to the factory of each redactor named.
    """
    if value is None or value == "none":
        return None
    items: list[Redactor | str]
    if isinstance(value, str):
        items = [n for n in value.split(",") if n.strip()]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        items = [value]
    redactors = [_one(v, options) for v in items if v != "none"]
    if not redactors:
        return None
    return redactors[0] if len(redactors) == 1 else ChainRedactor(redactors)
