"""memori's StrEnum behaves as Python 3.11's on every supported Python (a backport on 3.10)."""

from __future__ import annotations

import json
from enum import auto

import pytest

from memori.core.capabilities import Capability
from memori.core.models import ExtractState, MemoryKind
from memori.core.strenum import StrEnum


class Colour(StrEnum):
    DARK_RED = auto()
    BLUE = "blue"


@pytest.mark.parametrize("member", [ExtractState.PARKED, MemoryKind.GOAL, Capability.ASYNC,
                                    Colour.BLUE])
def test_a_member_is_its_value_in_text(member: StrEnum) -> None:
    value = member.value
    assert str(member) == format(member) == f"{member}" == "%s" % (member,) == value  # noqa: UP031
    assert f"{member:>12}" == f"{value:>12}"
    assert member == value and hash(member) == hash(value) and isinstance(member, str)
    assert json.dumps({member: [member]}) == json.dumps({value: [value]})
    assert type(member)(value) is member
    assert repr(member) == f"<{type(member).__name__}.{member.name}: {value!r}>"


def test_auto_gives_the_lower_cased_name_and_values_must_be_strings() -> None:
    assert Colour.DARK_RED == "dark_red" and list(Colour) == [Colour.DARK_RED, Colour.BLUE]
    with pytest.raises(TypeError, match="is not a string"):
        class Numbered(StrEnum):
            ONE = 1  # type: ignore[assignment]
