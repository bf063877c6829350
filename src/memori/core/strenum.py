"""``enum.StrEnum`` on every supported Python: the standard one from 3.11, a backport on 3.10.

The backport behaves as 3.11's: members are ``str`` instances whose ``str()`` and
``format()`` (so f-strings) give the value, and ``auto()`` gives the lower-cased name.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - exercised by the Python 3.10 run (tests/test_python310.py)
    from enum import Enum
    from typing import Any

    class StrEnum(str, Enum):
        """Enum whose members are also (and must be) strings."""

        def __new__(cls, *values: Any) -> StrEnum:
            if len(values) > 3:
                raise TypeError(f"too many arguments for str(): {values!r}")
            if len(values) == 1 and not isinstance(values[0], str):
                raise TypeError(f"{values[0]!r} is not a string")
            if len(values) >= 2 and not isinstance(values[1], str):
                raise TypeError(f"encoding must be a string, not {values[1]!r}")
            if len(values) == 3 and not isinstance(values[2], str):
                raise TypeError(f"errors must be a string, not {values[2]!r}")
            value = str(*values)
            member = str.__new__(cls, value)
            member._value_ = value
            return member

        def __str__(self) -> str:
            return str.__str__(self)

        def __format__(self, format_spec: str) -> str:
            return str.__format__(self, format_spec)

        @staticmethod
        def _generate_next_value_(name: str, start: int, count: int,
                                  last_values: list[Any]) -> str:
            return name.lower()

__all__ = ["StrEnum"]
