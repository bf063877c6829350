"""Redaction before storage: secrets never reach the database or an embedder.

A redactor rewrites each turn and memory before it is stored or embedded. The
built-in ``secrets`` redactor (off by default) replaces API keys, tokens, card
numbers and private keys with typed placeholders such as ``[redacted:card]``.
Redactors are components like the embedders: registered through the ``memori``
entry points (hook ``memori_register_redactors``) and chosen by name.
"""

from memori.redaction.chain import ChainRedactor
from memori.redaction.resolve import resolve_redactor
from memori.redaction.secrets import KINDS, SecretsRedactor, luhn_ok

__all__ = ["KINDS", "ChainRedactor", "SecretsRedactor", "luhn_ok", "resolve_redactor"]
