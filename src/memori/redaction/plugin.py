"""Registers the built-in redactors (through the same hook as third-party ones)."""

from __future__ import annotations

from typing import Any

from memori.core import ComponentSpec, hookimpl


@hookimpl
def memori_register_redactors(register: Any) -> None:
    register(ComponentSpec(
        "secrets", "memori.redaction.secrets:SecretsRedactor",
        description="API keys and tokens, Luhn-valid card numbers and PEM private keys "
                    "become [redacted:<kind>] placeholders.",
    ))
