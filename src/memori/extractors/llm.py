"""The LLM extractor: memories from turns through any OpenAI-compatible model.

The model answers with JSON matching ``SCHEMA`` (requested as a structured
output); the answer is validated here, and anything malformed raises
``ExtractionError`` so the worker retries and finally parks the turns. No text
goes anywhere but the endpoint the user configured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memori.core import MemoriError, Memory, MemoryKind, Turn
from memori.extractors.when import memory_metadata

KINDS = [k.value for k in MemoryKind]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["memories"],
    "properties": {
        "memories": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["content", "kind", "shared", "slot"],
                "properties": {
                    "content": {"type": "string"},
                    "kind": {"type": "string", "enum": KINDS},
                    "shared": {"type": "boolean"},
                    "slot": {"type": ["string", "null"]},
                },
            },
        }
    },
}

PROMPT = """You extract long-term memories about the user from a conversation.
Return JSON: {"memories": [{"content", "kind", "shared", "slot"}]}.
- content: one self-contained statement about the user, in the third person
  ("The user ...") or as the user said it; no questions, no small talk.
- kind: one of fact, preference, goal, event, note.
- shared: true when the memory is useful to every assistant persona of this user
  (name, allergies, language), false when it only matters to this persona.
- slot: a short key for single-valued facts that a newer value replaces
  ("lives_in", "name", "favorite:color"), else null.
Return {"memories": []} when nothing is worth remembering."""


class ExtractionError(MemoriError):
    """The model's answer is not valid extraction output."""


def parse_output(raw: str | None) -> list[dict[str, Any]]:
    """Validate the model's JSON against ``SCHEMA``; raise ExtractionError otherwise."""
    if not raw:
        raise ExtractionError("empty model output")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ExtractionError(f"model output is not JSON: {e.msg}") from e
    if not isinstance(data, dict) or not isinstance(data.get("memories"), list):
        raise ExtractionError("model output lacks a 'memories' list")
    items: list[dict[str, Any]] = []
    for i, item in enumerate(data["memories"]):
        if not isinstance(item, dict):
            raise ExtractionError(f"memories[{i}] is not an object")
        content, kind = item.get("content"), item.get("kind", "fact")
        shared, slot = item.get("shared", False), item.get("slot")
        if not isinstance(content, str) or not content.strip():
            raise ExtractionError(f"memories[{i}].content must be a non-empty string")
        if kind not in KINDS:
            raise ExtractionError(f"memories[{i}].kind must be one of {KINDS}")
        if not isinstance(shared, bool):
            raise ExtractionError(f"memories[{i}].shared must be a boolean")
        if slot is not None and not isinstance(slot, str):
            raise ExtractionError(f"memories[{i}].slot must be a string or null")
        items.append({"content": content.strip(), "kind": kind, "shared": shared,
                      "slot": slot or None})
    return items


def reply_content(response: Any) -> str | None:
    """The text of the first choice; ExtractionError when the reply has none."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise ExtractionError("model reply has no choices")
    message = getattr(choices[0], "message", None)
    if getattr(message, "refusal", None):
        raise ExtractionError("the model refused to extract")
    content = getattr(message, "content", None)
    return content if isinstance(content, str) or content is None else str(content)


def to_memories(turns: Sequence[Turn], items: Sequence[dict[str, Any]]) -> list[Memory]:
    """Candidate memories in the scope of the first turn, sourced from every turn."""
    first = turns[0]
    source = tuple(t.id for t in turns)
    return [
        Memory(
            entity_id=first.entity_id, process_id=first.process_id,
            session_id=first.session_id, content=item["content"], kind=item["kind"],
            shared=item["shared"], source_turn_ids=source,
            metadata=memory_metadata(item["slot"], item["content"], turns[-1].created_at),
        )
        for item in items
    ]


class _ModelExtraction:
    """What both LLM extractors share: the client, the model and the request they send."""

    def __init__(self, client: Any, model: str, *, temperature: float = 0.0,
                 max_turns: int = 20) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.max_turns = max_turns

    def _messages(self, turns: Sequence[Turn]) -> list[dict[str, str]]:
        lines = [f"{t.role}: {t.content}" for t in turns[-self.max_turns:]
                 if t.role in ("user", "assistant") and t.content]
        return [{"role": "system", "content": PROMPT},
                {"role": "user", "content": "\n".join(lines)}]

    def _request(self, turns: Sequence[Turn]) -> dict[str, Any]:
        """The ``chat.completions.create`` arguments: the turns and a strict JSON schema."""
        return {
            "model": self.model,
            "messages": self._messages(turns),
            "temperature": self.temperature,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "memories", "strict": True, "schema": SCHEMA}},
        }


class LLMExtractor(_ModelExtraction):
    """Extraction through ``client.chat.completions.create`` with a JSON schema.

    ``client`` is an ``openai.OpenAI`` (or compatible) client; ``model`` the
    model name. Only user and assistant turns are shown to the model.
    """

    name = "llm"

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        if not any(t.role == "user" for t in turns):
            return []
        response = self.client.chat.completions.create(**self._request(turns))
        return to_memories(turns, parse_output(reply_content(response)))


class AsyncLLMExtractor(_ModelExtraction):
    """The LLM extractor on an ``openai.AsyncOpenAI`` (or compatible) client.

    Its model calls are awaited on the application's event loop, so Memori runs
    augmentation as a task there (see ``AsyncOutboxWorker``). It has no sync
    ``extract``: in sync code use ``LLMExtractor`` with an ``openai.OpenAI``.
    """

    name = "llm-async"

    async def aextract(self, turns: Sequence[Turn]) -> list[Memory]:
        if not any(t.role == "user" for t in turns):
            return []
        response = await self.client.chat.completions.create(**self._request(turns))
        return to_memories(turns, parse_output(reply_content(response)))
