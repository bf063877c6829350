"""memori in one script: a fitness coach and a meal planner for one user.

Runs on the embedded default (a SQLite file in the per-user data directory,
or $MEMORI_URL). It talks to the OpenAI-compatible endpoint in
$OPENAI_BASE_URL when set; otherwise it starts memori's local stand-in server
(which answers "echo: ..."), so it runs offline and shows exactly what
reached the model.
"""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack

from openai import OpenAI

from memori import Memori


def main() -> None:
    with ExitStack() as stack:
        if os.environ.get("OPENAI_BASE_URL"):
            client = OpenAI()
            server = None
        else:
            from memori.testing import OpenAIServer

            server = stack.enter_context(OpenAIServer())
            client = OpenAI(base_url=server.base_url, api_key="local")
        model = os.environ.get("MEMORI_EXAMPLE_MODEL", "gpt-4o-mini")

        mem = stack.enter_context(Memori())
        mem.llm.register(client)
        user = f"alice-{uuid.uuid4().hex[:8]}@example.com"  # a fresh user on every run

        def ask(persona: str, text: str) -> str:
            mem.attribution(entity_id=user, process_id=persona)
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": text}]
            )
            # no flush() needed: the user's next call waits for this turn's facts
            return reply.choices[0].message.content or ""

        ask("fitness-coach", "Goal: sub-25 5K by June.")
        ask("meal-planner", "I prefer vegetarian dinners.")
        answer = ask("fitness-coach", "Remind me of my running goal.")

        print(f"database:  {mem.store!r}")
        print(f"memories of {user} as the fitness coach:")
        mem.attribution(entity_id=user, process_id="fitness-coach")
        for m in mem.memories():
            print(f"  - [{m.kind}] {m.content}")
        print(f"the model answered: {answer[:200]}")
        if server is not None:
            sent = server.chat_requests()[-1].body["messages"]
            context = next(m["content"] for m in sent if "memori_context" in m["content"])
            print("what reached the model with the last question:")
            print("  " + context.replace("\n", "\n  "))
            assert "sub-25 5K" in context, "the coach should see the running goal"
            assert "vegetarian" not in context, "the coach must not see the planner's memory"
        print("ok: the coach remembered the goal and saw nothing of the meal planner")


if __name__ == "__main__":
    main()
