"""Which patch fits a client: openai, Anthropic, or the litellm module.

An SDK is imported only when the client could be one of its own: an Anthropic client
exists only once ``anthropic`` is imported, and litellm is registered as its module.
So registering an openai client never imports anthropic or litellm, and the reverse.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

from memori.core import MissingExtraError

if TYPE_CHECKING:
    from memori.llm.engine import MemoryEngine

SUPPORTED = (
    "an openai.OpenAI or openai.AsyncOpenAI client (Azure variants included), "
    "an anthropic.Anthropic or anthropic.AsyncAnthropic client, or the litellm module"
)


class Patch(Protocol):
    """The memory wrappers installed on one client, removable."""

    def install(self) -> None: ...
    def remove(self) -> None: ...


PatchFactory = Callable[[Any, "MemoryEngine", Callable[[Any], None]], Patch]


def _is_anthropic(client: Any) -> bool:
    if "anthropic" not in sys.modules:
        return False
    from memori.llm.anthropic_patch import is_anthropic

    return is_anthropic(client)


def _is_litellm(client: Any) -> bool:
    return isinstance(client, ModuleType) and client.__name__ == "litellm"


def patch_factory(client: Any) -> PatchFactory:
    """The patch class for ``client``; TypeError if unsupported, MissingExtraError if its
    memori extra's SDK cannot be imported."""
    if _is_anthropic(client):
        from memori.llm.anthropic_patch import AnthropicPatch

        return AnthropicPatch
    if _is_litellm(client):
        from memori.llm.litellm_patch import LiteLLMPatch

        return LiteLLMPatch
    try:
        from memori.llm.patching import ClientPatch, is_supported
    except ImportError as e:
        raise MissingExtraError("openai", "the LLM interceptors") from e
    if is_supported(client):
        return cast(PatchFactory, ClientPatch)
    raise TypeError(f"mem.llm.register() takes {SUPPORTED}, not {type(client).__name__}")


def is_supported(client: Any) -> bool:
    """Whether ``client`` is one ``mem.llm.register`` takes (imports no SDK of its own)."""
    if _is_anthropic(client) or _is_litellm(client):
        return True
    if "openai" not in sys.modules:
        return False
    from memori.llm.patching import is_supported as is_openai

    return is_openai(client)
