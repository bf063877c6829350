"""The Responses API: how memory reads, rewrites and records ``responses`` calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memori.llm.context import inject_instructions
from memori.llm.continuation import Ref
from memori.llm.engine import Request, StreamReply
from memori.llm.messages import Draft, responses_drafts
from memori.llm.replies import ResponsesStreamReply, responses_reply


class ResponsesApi:
    """``input`` in, the block appended to ``instructions``, the output items recorded.

    With ``previous_response_id`` or ``conversation`` the API holds the
    conversation itself, so only memories are injected, not session history, and the
    call continues the session the earlier response (or conversation) was recorded in.
    """

    name = "responses"
    provider = "openai"

    def read(self, kwargs: dict[str, Any]) -> Request | None:
        value = kwargs.get("input")
        if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            value = list(value)  # read a one-shot iterable once, pass the copy on
            kwargs = {**kwargs, "input": value}
        else:
            kwargs = dict(kwargs)
        drafts = responses_drafts(value)
        continues = _continues(kwargs)
        if continues is not None and continues[0] == "conversation_id":
            drafts = [Draft(d.role, d.content, {**d.metadata, "conversation_id": continues[1]})
                      for d in drafts]
        server_history = continues is not None or isinstance(
            kwargs.get("previous_response_id"), str) or isinstance(
            kwargs.get("conversation"), str | Mapping)
        return Request(kwargs, drafts, server_history=server_history, continues=continues)

    def inject(self, request: Request, block: str) -> dict[str, Any]:
        instructions = inject_instructions(request.kwargs.get("instructions"), block)
        return {**request.kwargs, "instructions": instructions}

    def reply(self, result: Any) -> Draft | list[Draft] | None:
        return responses_reply(result)

    def stream_reply(self) -> StreamReply:
        return ResponsesStreamReply()


def _continues(kwargs: dict[str, Any]) -> Ref | None:
    """What the request continues: the previous response, else the conversation."""
    previous = kwargs.get("previous_response_id")
    if isinstance(previous, str) and previous:
        return ("response_id", previous)
    conversation = kwargs.get("conversation")
    if isinstance(conversation, Mapping):
        conversation = conversation.get("id")
    if isinstance(conversation, str) and conversation:
        return ("conversation_id", conversation)
    return None


RESPONSES = ResponsesApi()
