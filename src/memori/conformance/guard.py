"""The guard: isolation tests can be neither overridden, deleted, skipped nor xfailed.

Three layers, like langchain-tests' ``test_no_overrides_DO_NOT_OVERRIDE``:

- ``GuardTests.__init_subclass__`` refuses a subclass whose body redefines an
  isolation test (``TypeError`` when the test module is imported);
- ``test_isolation_tests_are_intact`` fails when an isolation test was replaced
  or deleted after the class was built, or carries a skip or xfail mark; and a
  standard (non-isolation) test may be overridden only with a visible
  ``xfail(reason=...)`` mark;
- an autouse fixture ends the run (``pytest.exit``) when an isolation test runs
  under an xfail mark inherited from its class or module, since xfail would
  hide its failures.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])

ISOLATION_FLAG = "__memori_isolation__"
GUARD_TEST = "test_isolation_tests_are_intact"
_HIDING_MARKS = frozenset({"skip", "skipif", "xfail"})


def isolation(test: F) -> F:
    """Mark a test as an isolation test: the guard protects it."""
    setattr(test, ISOLATION_FLAG, True)
    return test


def is_isolation(obj: object) -> bool:
    return bool(getattr(obj, ISOLATION_FLAG, False))


@dataclass(frozen=True)
class Original:
    """A standard test as the suite defines it (function and code, to spot replacement)."""

    function: Callable[..., Any]
    code: object


def _function(value: object) -> Callable[..., Any] | None:
    value = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    return value if inspect.isfunction(value) else None


def _marks(obj: object) -> list[Any]:
    marks = getattr(obj, "pytestmark", [])
    return list(marks) if isinstance(marks, list | tuple) else [marks]


def _hiding_marks(obj: object) -> list[str]:
    return [m.name for m in _marks(obj) if getattr(m, "name", None) in _HIDING_MARKS]


def _has_xfail_with_reason(obj: object) -> bool:
    return any(
        getattr(m, "name", None) == "xfail" and (m.kwargs.get("reason") or m.args)
        for m in _marks(obj)
    )


def standard_tests(cls: type) -> dict[str, Original]:
    """Every ``test_*`` function of ``cls`` and its bases, as defined now."""
    found: dict[str, Original] = {}
    for name in dir(cls):
        if not name.startswith("test"):
            continue
        fn = _function(inspect.getattr_static(cls, name))
        if fn is not None:
            found[name] = Original(fn, fn.__code__)
    return found


def violations(cls: type, originals: Mapping[str, Original]) -> list[str]:
    """What a subclass did to the suite's tests that the guard does not allow."""
    problems: list[str] = []
    for name, original in sorted(originals.items()):
        protected = name == GUARD_TEST or is_isolation(original.function)
        try:
            current = _function(inspect.getattr_static(cls, name))
        except AttributeError:
            current = None
        if current is None:
            problems.append(f"{name} was deleted or replaced by a non-function")
            continue
        replaced = current is not original.function or current.__code__ is not original.code
        hidden = _hiding_marks(current)
        if protected and replaced:
            problems.append(f"isolation test {name} was overridden")
        elif protected and hidden:
            problems.append(f"isolation test {name} is marked {', '.join(hidden)}")
        elif replaced and not _has_xfail_with_reason(current):
            problems.append(
                f"{name} was overridden without @pytest.mark.xfail(reason=...): a standard "
                "test may only be overridden to mark a known, visible deviation"
            )
        elif not replaced and hidden:
            problems.append(f"standard test {name} is marked {', '.join(hidden)}")
    return problems


class GuardTests:
    """The guard test and the subclass check; part of every ``StoreConformance``."""

    _ORIGINALS: ClassVar[Mapping[str, Original] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        originals = GuardTests._ORIGINALS
        if originals is None:
            return  # the suite itself is being assembled
        redefined = sorted(
            name for name, original in originals.items()
            if name in cls.__dict__
            and (name == GUARD_TEST or is_isolation(original.function))
        )
        if redefined:
            raise TypeError(
                f"{cls.__qualname__} redefines isolation test(s) {', '.join(redefined)}: "
                "isolation tests of the memori conformance suite cannot be overridden, "
                "deleted or skipped"
            )

    @classmethod
    def _seal(cls) -> None:
        """Record the suite's tests as they are now (called once, after assembly)."""
        GuardTests._ORIGINALS = standard_tests(cls)

    @pytest.fixture(autouse=True)
    def _isolation_cannot_be_hidden(self, request: pytest.FixtureRequest) -> None:
        fn = getattr(request.node, "function", None)
        if not (is_isolation(fn) or getattr(fn, "__name__", "") == GUARD_TEST):
            return
        if request.node.get_closest_marker("xfail") is not None:
            pytest.exit(
                f"memori conformance: isolation test {request.node.nodeid} runs under an "
                "xfail mark (on its class or module); isolation tests cannot be xfailed",
                returncode=1,
            )

    def test_isolation_tests_are_intact(self) -> None:
        originals = GuardTests._ORIGINALS
        assert originals, "the conformance suite was not sealed"
        assert sum(is_isolation(o.function) for o in originals.values()) > 0
        problems = violations(type(self), originals)
        assert not problems, "memori conformance guard:\n- " + "\n- ".join(problems)
