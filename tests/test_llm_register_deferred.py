"""``register()`` does not build the client's resources (``chat``, ``responses``,
``beta``): they are patched when first used, and behave as if patched from the start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from memori import Memori
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer


def test_register_imports_neither_responses_nor_beta(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        import openai
        from memori import Memori
        mem = Memori("sqlite:///{tmp_path / 'r.db'}", embedder="hash")
        client = mem.llm.register(openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9"))
        slow = [m for m in ("openai.resources.responses", "openai.resources.beta")
                if m in sys.modules]
        client.responses.create  # first use builds and patches it
        print(slow, "openai.resources.responses" in sys.modules)
        mem.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["[]", "True"], out.stderr


def test_a_deferred_resource_remembers_from_its_first_use(tmp_path: Path) -> None:
    with OpenAIServer() as server, \
            Memori(f"sqlite:///{tmp_path / 'd.db'}", embedder="hash") as mem:
        client = mem.llm.register(server.client())
        mem.attribution(entity_id="ann", session_id="s1")
        mem.remember("Ann's dog is called Pixel.")
        client.responses.create(model="m", input="What is my dog called?")
        assert OPEN_TAG in str(server.last_request("responses").body.get("instructions"))
        from openai.resources.chat import Chat
        from openai.resources.responses import Responses
        assert isinstance(client.__dict__["responses"], Responses)
        assert "chat" not in client.__dict__ or not isinstance(client.__dict__["chat"], Chat)
        client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "And his name again?"}])
        assert OPEN_TAG in str(server.last_request("chat").body["messages"])
        assert isinstance(client.__dict__["chat"], Chat)
        mem.flush()
        assert [t.content for t in mem.history()][:1] == ["What is my dog called?"]


def test_unregister_before_first_use_leaves_a_plain_client(tmp_path: Path) -> None:
    with OpenAIServer() as server, \
            Memori(f"sqlite:///{tmp_path / 'u.db'}", embedder="hash") as mem:
        client = mem.llm.register(server.client())
        mem.attribution(entity_id="ann", session_id="s1")
        mem.remember("Ann's dog is called Pixel.")
        assert mem.llm.unregister(client)
        assert not {"chat", "responses", "beta"} & set(client.__dict__)
        client.responses.create(model="m", input="What is my dog called?")
        assert server.last_request("responses").body.get("instructions") is None
        mem.flush()
        assert mem.history() == []
