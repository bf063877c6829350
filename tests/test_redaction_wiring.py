"""The redactor runs before anything is journaled, embedded or stored: LLM path and remember."""

from __future__ import annotations

from pathlib import Path

from memori import Memori
from memori.core import Scope
from memori.testing import OpenAIServer

KEY = "sk-proj-" + "Zx9" * 16
CARD = "4111 1111 1111 1111"


def test_secrets_never_reach_the_store_the_journal_or_the_extractor(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Memori(url, embedder="hash", redactor="secrets") as mem:
        client = openai_server.client()
        mem.llm.register(client)
        mem.attribution(entity_id="kim", process_id="helper")
        client.chat.completions.create(model="m", messages=[{"role": "user", "content":
            f"My API key is {KEY} and my card is {CARD}. I live in Porto."}])
        sent = openai_server.last_request("chat").messages
        assert any(KEY in str(m.get("content")) for m in sent)  # the model call is untouched
        mem.remember(f"Backup key: {KEY}", entity_id="kim")
        assert mem.flush(timeout=30)
        stored = [t.content for t in mem.store.list_turns(Scope("kim", "helper"))]
        memories = [m.content for m in mem.store.list_memories(Scope("kim", "helper"))]
        assert stored and memories
        for text in stored + memories:
            assert KEY not in text and CARD not in text
        assert "[redacted:openai-key]" in stored[0] and "[redacted:card]" in stored[0]
        assert "Backup key: [redacted:openai-key]" in memories
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path.name
    home = Path(__import__("os").environ["MEMORI_HOME"])
    for path in home.rglob("*.jsonl"):  # the local journal holds the redacted text only
        assert KEY.encode() not in path.read_bytes()


def test_without_a_redactor_text_is_stored_as_sent(tmp_path: Path) -> None:
    with Memori(f"sqlite:///{tmp_path / 'plain.db'}", embedder="hash") as mem:
        memory = mem.remember(f"key {KEY}", entity_id="lee")
        assert memory.content == f"key {KEY}"
