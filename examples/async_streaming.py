"""Async streaming with memory: chunks pass through untouched, the reply is recorded at the end.

Many users chat concurrently in asyncio tasks; each task has its own
attribution (contextvars), so nothing crosses between them. Uses
$OPENAI_BASE_URL when set, else memori's local stand-in server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from openai import AsyncOpenAI

from memori import Memori


async def chat(
    mem: Memori, client: AsyncOpenAI, model: str, user: str, text: str
) -> tuple[str, str]:
    """One streamed chat in this task's own attribution; returns (reply, session id)."""
    mem.attribution(entity_id=user, process_id="assistant")
    stream = await client.chat.completions.create(
        model=model, stream=True, messages=[{"role": "user", "content": text}])
    pieces = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    session = mem.current.session_id
    assert session is not None
    return "".join(pieces), session


async def main(url: str | None = None) -> int:
    server = None
    if os.environ.get("OPENAI_BASE_URL"):
        client = AsyncOpenAI()
    else:
        from memori.testing import OpenAIServer

        server = OpenAIServer().start()
        client = AsyncOpenAI(base_url=server.base_url, api_key="local")
    model = os.environ.get("MEMORI_EXAMPLE_MODEL", "gpt-4o-mini")
    run = uuid.uuid4().hex[:6]
    try:
        async with Memori(url) as mem:
            mem.llm.register(client)
            users = [f"user-{run}-{i}" for i in range(10)]
            replies = await asyncio.gather(*(
                chat(mem, client, model, u, f"My favourite colour is shade number {i}.")
                for i, u in enumerate(users)))
            await mem.aflush()
            ok = True
            for i, (user, (reply, session)) in enumerate(zip(users, replies, strict=True)):
                with mem.attribution(entity_id=user, process_id="assistant", session_id=session):
                    stored = [t.content for t in mem.history(limit=10)]
                ok &= stored == [f"My favourite colour is shade number {i}.", reply]
            print(f"{len(users)} concurrent streamed chats recorded, each under its own user")
            print("ok" if ok else "FAILED: a conversation was stored under the wrong user")
            return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None)))
