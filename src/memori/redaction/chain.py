"""Several redactors applied one after another, as one."""

from __future__ import annotations

from collections.abc import Sequence

from memori.core import Redactor


class ChainRedactor:
    """Applies each redactor in order; its name joins theirs with ``+``."""

    def __init__(self, redactors: Sequence[Redactor]) -> None:
        self.redactors = tuple(redactors)
        self.name = "+".join(r.name for r in self.redactors) or "none"

    def redact(self, text: str) -> str:
        for redactor in self.redactors:
            text = redactor.redact(text)
        return text

    def __repr__(self) -> str:
        return f"ChainRedactor({list(self.redactors)!r})"
