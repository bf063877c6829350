"""Test helpers shipped with memori: loopback model servers for the real SDK clients.

`OpenAIServer` (OpenAI-compatible) and `AnthropicServer` (the Anthropic Messages API)
listen on 127.0.0.1, record every request and answer with scripted (`Reply`, `ToolCall`)
or deterministic default replies, so tests exercise the real clients over real HTTP
without any network or mocking.
"""

from memori.testing.anthropic_server import AnthropicServer
from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_script import Endpoint, Reply, Responder, ToolCall
from memori.testing.openai_server import DEFAULT_MODELS, OpenAIServer

__all__ = [
    "DEFAULT_MODELS",
    "AnthropicServer",
    "Endpoint",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCall",
]
