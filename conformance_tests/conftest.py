"""The conformance run: the shipped suite against every built-in backend that is available.

Each ``test_<backend>.py`` here subclasses ``memori.conformance.StoreConformance``
and skips itself when its database or driver is not available. This file only
reports what the run covers.
"""

from __future__ import annotations

import os

import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    from memori.conformance.stateful import EXAMPLES, STEPS

    return [
        f"memori conformance: stateful test {EXAMPLES} runs x {STEPS} steps "
        "(MEMORI_CONFORMANCE_EXAMPLES, MEMORI_CONFORMANCE_STEPS)",
        "memori conformance: servers from "
        + (", ".join(k for k in sorted(os.environ) if k.startswith("MEMORI_TEST_")) or
           "the tests themselves (no MEMORI_TEST_*_URL set)"),
    ]
