"""The settings an operator changes without editing the application: ``MEMORI_*`` variables.

``Memori(...)`` asks here for every setting the application left at its default;
an explicit argument always wins. A value that cannot be read raises
``ConfigurationError`` naming the variable, when ``Memori()`` is created, never
later in a model call. The table of variables is in ``docs/configuration.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from memori.core import ConfigurationError, MissingExtraError

T = TypeVar("T")

EMBEDDER = "MEMORI_EMBEDDER"
EXTRACTOR = "MEMORI_EXTRACTOR"
REDACTOR = "MEMORI_REDACTOR"
STRICT = "MEMORI_STRICT"
DISABLED = "MEMORI_DISABLED"
TOKEN_BUDGET = "MEMORI_TOKEN_BUDGET"
RECALL_LIMIT = "MEMORI_RECALL_LIMIT"
RELEVANCE_FLOOR = "MEMORI_RELEVANCE_FLOOR"
DURABILITY = "MEMORI_DURABILITY"
READ_YOUR_WRITES = "MEMORI_READ_YOUR_WRITES"
READ_TIMEOUT = "MEMORI_READ_TIMEOUT"
OTEL = "MEMORI_OTEL"
OTEL_CAPTURE_CONTENT = "MEMORI_OTEL_CAPTURE_CONTENT"
LOG_LEVEL = "MEMORI_LOG_LEVEL"
LOG_CONTENT = "MEMORI_LOG_CONTENT"

DEFAULT = "default"
"""The value of ``embedder=``, ``extractor=`` and ``redactor=`` that asks for the variable."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def text(name: str) -> str | None:
    """The variable's value without surrounding blanks; None when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or None


def flag(name: str) -> bool | None:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); None when unset."""
    value = text(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(
        f"{name} must be 1, true, yes or on, or 0, false, no or off; got {value!r}")


def integer(name: str, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high``; None when unset."""
    value = text(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigurationError(f"{name} must be a whole number from {low} to {high}; "
                                 f"got {value!r}")
    return number


def number(name: str, low: float, high: float, unit: str = "") -> float | None:
    """A number from ``low`` to ``high``; None when unset."""
    value = text(name)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not low <= parsed <= high:  # NaN fails too
        raise ConfigurationError(f"{name} must be a number{unit} from {low:g} to {high:g}; "
                                 f"got {value!r}")
    return parsed


def choice(name: str, choices: tuple[str, ...]) -> str | None:
    """One of ``choices`` (any case); None when unset."""
    value = text(name)
    if value is None:
        return None
    if value.lower() not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value.lower()


def pick(explicit: T | None, name: str, read: Callable[[str], T | None], default: T) -> T:
    """The explicit argument if given, else the variable, else ``default``."""
    if explicit is not None:
        return explicit
    value = read(name)
    return default if value is None else value


@contextmanager
def naming(name: str | None) -> Iterator[None]:
    """Errors of a value taken from variable ``name`` say so (no-op for None: an argument)."""
    if name is None:
        yield
        return
    try:
        yield
    except MissingExtraError:
        raise
    except ConfigurationError as e:
        raise ConfigurationError(f"{name}: {e}") from e


def named(value: Any, name: str) -> tuple[Any, str | None]:
    """The component setting to resolve and the variable it came from (None: the argument).

    ``"default"`` means the variable's value if it is set, else ``"default"``.
    """
    if isinstance(value, str) and value == DEFAULT:
        from_env = text(name)
        if from_env is not None:
            return from_env, name
    return value, None


def llm_extractor(spec: str) -> Any:
    """``llm:<model>`` from ``MEMORI_EXTRACTOR``: the LLM extractor on an ``openai.OpenAI()``
    client configured by the usual ``OPENAI_*`` variables (the operator's endpoint)."""
    model = spec.partition(":")[2].strip()
    if not model:
        raise ConfigurationError(f"{EXTRACTOR} llm:<model> needs a model name; got {spec!r}")
    try:
        from openai import OpenAI
    except ImportError as e:
        raise MissingExtraError("openai", f"{EXTRACTOR}={spec}") from e
    from memori.extractors.llm import LLMExtractor

    return LLMExtractor(OpenAI(), model)
