"""The memori context blocks among the messages a model received (for the tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer


def blocks(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The context blocks among ``messages``, in order."""
    return [m["content"] for m in messages
            if isinstance(m.get("content"), str) and m["content"].startswith(OPEN_TAG)]


def say(client: Any, text: str) -> Any:
    """One chat call of a (registered) openai client with the user message ``text``."""
    return client.chat.completions.create(model="m", messages=[{"role": "user",
                                                                "content": text}])


def last_blocks(server: OpenAIServer) -> list[str]:
    """The context blocks of the last chat request ``server`` received."""
    return blocks(server.last_request("chat").messages)
