"""Test helpers shipped with memori: an OpenAI-compatible server for the real openai client.

`OpenAIServer` listens on 127.0.0.1, records every request and answers with scripted
(`Reply`, `ToolCall`) or deterministic default replies, so tests exercise the real client
over real HTTP without any network or mocking.
"""

from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_script import Endpoint, Reply, Responder, ToolCall
from memori.testing.openai_server import DEFAULT_MODELS, OpenAIServer

__all__ = [
    "DEFAULT_MODELS",
    "Endpoint",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCall",
]
