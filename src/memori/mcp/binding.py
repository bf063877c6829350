"""Whose memory an MCP server serves: the entity and personas fixed at start-up.

A model connected over MCP can pick among the allowed personas, never the entity: a
prompt injected into its context must not be able to reach another user's memories.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memori.core import check_id, check_optional_id
from memori.core.models import new_id
from memori.tools import call_tool

ENV_ENTITY = "MEMORI_MCP_ENTITY"
"""The entity a server binds when ``--entity`` is not given."""


@dataclass(frozen=True)
class Binding:
    """The entity, the default persona, the personas a call may pick, and the session.

    ``persona`` None with no ``allowed`` personas: calls see the entity's persona-free
    and shared memories only, as a Python read without a persona does.
    """

    entity_id: str
    persona: str | None = None
    allowed: tuple[str, ...] = ()
    session_id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        check_id(self.entity_id, "entity_id")
        check_optional_id(self.persona, "persona")
        check_id(self.session_id, "session_id")
        for persona in self.allowed:
            check_id(persona, "allowed persona")
        if self.persona is not None and self.allowed and self.persona not in self.allowed:
            object.__setattr__(self, "allowed", (self.persona, *self.allowed))

    @classmethod
    def from_options(
        cls, entity: str | None, persona: str | None = None,
        allowed: str | Sequence[str] | None = None, session: str | None = None,
    ) -> Binding:
        """From command-line options: the entity falls back to ``MEMORI_MCP_ENTITY``;
        ``allowed`` may be a comma-separated list. ``ValueError`` when no entity is set."""
        entity = entity if entity is not None else os.environ.get(ENV_ENTITY) or None
        if entity is None:
            raise ValueError(f"memori mcp serves one entity: pass --entity or set {ENV_ENTITY}")
        if isinstance(allowed, str):
            allowed = [p.strip() for p in allowed.split(",") if p.strip()]
        names = tuple(dict.fromkeys(allowed or ()))
        return cls(entity, persona, names, session or new_id())

    def call(self, mem: Any, name: Any, arguments: Any) -> dict[str, Any]:
        """Run one tool call on ``mem`` as this binding (call it on a worker thread)."""
        with mem.attribution(self.entity_id, self.persona, self.session_id):
            return call_tool(mem, name, arguments, personas=self.allowed)
