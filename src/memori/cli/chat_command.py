"""chat: an interactive conversation with memory against any OpenAI-compatible endpoint."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from memori.cli.common import open_memori, scope_of
from memori.cli.errors import OK, USAGE, CLIError


def cmd_chat(args: argparse.Namespace) -> int:
    try:
        from openai import OpenAI
    except ImportError as e:
        raise CLIError("chat needs the openai package: pip install 'memori[openai]'", USAGE) from e
    if not os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
        raise CLIError("set OPENAI_BASE_URL (and OPENAI_API_KEY) to an OpenAI-compatible "
                       "endpoint", USAGE)
    scope = scope_of(args)
    client = OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "unused")
    with open_memori(args, extractor="offline") as mem:
        mem.llm.register(client)
        mem.attribution(entity_id=scope.entity_id, process_id=scope.process_id,
                        session_id=args.session)
        messages: list[Any] = []
        interactive = sys.stdin.isatty()
        while True:
            try:
                line = input("you> " if interactive else "")
            except EOFError:
                break
            if line.strip() in ("/exit", "/quit"):
                break
            if not line.strip():
                continue
            messages.append({"role": "user", "content": line})
            reply = client.chat.completions.create(model=args.model, messages=messages)
            text = reply.choices[0].message.content or ""
            messages.append({"role": "assistant", "content": text})
            print(f"assistant> {text}" if interactive else text, flush=True)
            mem.flush()
    return OK
