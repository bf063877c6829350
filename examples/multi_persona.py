"""One user, two agent personas: a fitness coach and a meal planner that never mix.

The coach learns a running goal, the planner a dietary preference, and an
allergy is stored as shared so both see it. Each persona is then asked what it
knows, and we print exactly what memori put in front of the model.

Uses $OPENAI_BASE_URL when set, else memori's local stand-in server.
"""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import ExitStack

from openai import OpenAI

from memori import Memori


def main(url: str | None = None) -> int:
    with ExitStack() as stack:
        if os.environ.get("OPENAI_BASE_URL"):
            client, server = OpenAI(), None
        else:
            from memori.testing import OpenAIServer

            server = stack.enter_context(OpenAIServer())
            client = OpenAI(base_url=server.base_url, api_key="local")
        model = os.environ.get("MEMORI_EXAMPLE_MODEL", "gpt-4o-mini")
        mem = stack.enter_context(Memori(url))
        mem.llm.register(client)
        user = f"sam-{uuid.uuid4().hex[:8]}"

        def say(persona: str, text: str) -> None:
            with mem.attribution(entity_id=user, process_id=persona):
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": text}])

        say("fitness-coach", "My running goal is a half marathon in October.")
        say("meal-planner", "I prefer high-protein vegetarian meals.")
        with mem.attribution(entity_id=user, process_id="meal-planner"):
            mem.remember("Allergic to peanuts.", shared=True)
        mem.flush()

        failures = 0
        for persona, must, must_not in (
            ("fitness-coach", ["half marathon", "peanuts"], ["vegetarian"]),
            ("meal-planner", ["vegetarian", "peanuts"], ["half marathon"]),
        ):
            with mem.attribution(entity_id=user, process_id=persona):
                hits = mem.recall("goal meals allergy marathon vegetarian peanuts", limit=10)
            seen = " | ".join(h.content for h in hits)
            print(f"{persona:14} sees: {seen}")
            failures += sum(m not in seen for m in must) + sum(m in seen for m in must_not)
            if server is not None:
                with mem.attribution(entity_id=user, process_id=persona):
                    client.chat.completions.create(model=model, messages=[
                        {"role": "user", "content": "What do you know about my goals and diet?"}])
                sent = str(server.chat_requests()[-1].body["messages"])
                failures += sum(m in sent for m in must_not)
        print("ok: personas stayed apart" if failures == 0 else f"FAILED: {failures} leak(s)")
        return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
