"""The LLM path: registered OpenAI clients read and write memory by themselves.

``mem.llm.register(client)`` patches one client instance; each call then gets
the scope from the context, recalls within it, injects one delimited context
block within the token budget, calls the model with a copy of the messages and
records the new messages and the reply. Importing this package does not import
openai; registering a client does.
"""

from memori.llm.registry import LLMRegistry
from memori.llm.stats import LLMStats

__all__ = ["LLMRegistry", "LLMStats"]
