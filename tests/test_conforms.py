"""``conforms``: isinstance against a runtime-checkable protocol, kept per class only
where the class itself holds every member (so no instance can answer otherwise)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from memori.core import conforms as module
from memori.core.conforms import conforms, members


@runtime_checkable
class Speaks(Protocol):
    def speak(self) -> str: ...


@runtime_checkable
class Flagged(Protocol):
    flag: bool


class Speaker:
    def speak(self) -> str:
        return "hi"


class Mute:
    pass


class SometimesSpeaks:
    """Speaks only when given a voice: an instance attribute, not a method."""

    def __init__(self, voice: bool) -> None:
        if voice:
            self.speak = lambda: "hi"


class Proxy:
    """Forwards every attribute to what it wraps (as observability's store proxy does)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_class_with_the_methods_is_remembered() -> None:
    assert conforms(Speaker(), Speaks)
    assert (Speaker, Speaks) in module._conforming
    assert conforms(Speaker(), Speaks)
    assert not conforms(Mute(), Speaks)
    assert (Mute, Speaks) not in module._conforming


def test_members_found_on_instances_are_asked_each_time() -> None:
    assert conforms(SometimesSpeaks(True), Speaks)
    assert not conforms(SometimesSpeaks(False), Speaks)  # not taken from the first answer
    assert conforms(SometimesSpeaks(True), Speaks)
    assert (SometimesSpeaks, Speaks) not in module._conforming


def test_a_proxy_answers_as_what_it_wraps() -> None:
    assert conforms(Proxy(Speaker()), Speaks)
    assert not conforms(Proxy(Mute()), Speaks)
    assert conforms(Proxy(Speaker()), Speaks)


def test_data_members_are_never_remembered() -> None:
    class On:
        flag = True

    assert conforms(On(), Flagged)
    assert (On, Flagged) not in module._conforming
    assert not conforms(Mute(), Flagged)


def test_members_of_a_protocol() -> None:
    assert members(Speaks) == {"speak"}
    assert members(Flagged) == {"flag"}
