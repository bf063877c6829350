"""``remember_many``: many memories in one call, each as ``remember`` would store it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memori import Memori


@pytest.fixture
def alice(mem: Memori) -> Memori:
    mem.attribution(entity_id="alice", process_id="coach")
    return mem


def test_stores_texts_and_mappings_in_order_with_their_fields(alice: Memori) -> None:
    stored = alice.remember_many([
        "Runs a marathon in April.",
        {"text": "Allergic to peanuts.", "kind": "health", "metadata": {"source": "form"}},
        {"text": "Prefers green tea.", "pinned": True, "shared": True},
    ], kind="fact")
    assert [m.content for m in stored] == [
        "Runs a marathon in April.", "Allergic to peanuts.", "Prefers green tea."]
    assert [m.kind for m in stored] == ["fact", "health", "fact"]
    assert stored[1].metadata == {"source": "form"}
    assert stored[2].pinned and stored[2].shared and not stored[0].pinned
    assert all(m.entity_id == "alice" and m.process_id == "coach" for m in stored)
    assert {m.content for m in alice.list_memories()} == {m.content for m in stored}
    assert alice.recall("peanuts")[0].content == "Allergic to peanuts."


def test_vectors_are_those_remember_stores(alice: Memori, sqlite_url: str) -> None:
    many = alice.remember_many(["The boat is called Juniper.", "Lives in Lyon."])
    with Memori(sqlite_url.replace("memori.db", "one.db"), embedder="hash") as other:
        other.attribution(entity_id="alice", process_id="coach")
        one = [other.remember(m.content) for m in many]
    assert [m.embedding for m in many] == [m.embedding for m in one]
    assert all(m.embedding is not None for m in many)


def test_one_bad_item_stores_nothing_and_names_its_index(alice: Memori) -> None:
    cases = [
        (["fine", "   "], "item 1: text must not be empty"),
        (["fine", {"text": "ok", "colour": "red"}], "item 1: unknown field(s) ['colour']"),
        (["fine", "also fine", {"kind": "fact"}], "item 2: 'text' is missing"),
        (["fine", {"text": "x", "metadata": {"n": float("nan")}}], "item 1:"),
        (["fine", {"text": "x", "pinned": "yes"}], "item 1: pinned must be a bool"),
        (["fine", 42], "item 1: a text or a mapping, not int"),
    ]
    for items, message in cases:
        with pytest.raises(ValueError) as info:
            alice.remember_many(items)
        assert message in str(info.value)
    assert alice.list_memories() == []


def test_one_text_instead_of_a_list_is_refused(alice: Memori) -> None:
    with pytest.raises(TypeError, match="iterable of texts"):
        alice.remember_many("Runs a marathon in April.")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of texts"):
        alice.remember_many({"text": "x"})  # type: ignore[arg-type]


def test_text_users_send_is_cleaned_as_remember_cleans_it(alice: Memori) -> None:
    stored = alice.remember_many(["我对花生过敏", "nul\x00byte", "lone \ud800 surrogate"])
    assert [m.content for m in stored] == [
        "我对花生过敏", "nul\ufffdbyte", "lone \ufffd surrogate"]


def test_duplicates_merge_as_with_remember(alice: Memori) -> None:
    alice.remember("Allergic to peanuts.")
    alice.remember_many(["Allergic to peanuts.", "Allergic to peanuts.", "Lives in Lyon."])
    assert sorted(m.content for m in alice.list_memories()) == [
        "Allergic to peanuts.", "Lives in Lyon."]


def test_scope_is_the_named_entity_and_no_other(alice: Memori) -> None:
    alice.remember_many(["Bob's secret plan."], entity_id="bob", process_id=None)
    assert alice.list_memories() == []
    assert [m.content for m in alice.list_memories(entity_id="bob", process_id=None)] == [
        "Bob's secret plan."]


def test_empty_input_stores_nothing(alice: Memori) -> None:
    assert alice.remember_many([]) == []
    assert alice.remember_many(iter(())) == []


def test_expiry_and_ttl_per_item(alice: Memori) -> None:
    stored = alice.remember_many(["a", {"text": "b", "ttl": 60}], expires_at=None)
    assert stored[0].expires_at is None
    assert stored[1].expires_at is not None


async def test_async_twin(alice: Memori) -> None:
    stored = await alice.aremember_many(["Runs a marathon in April."], kind="fact")
    assert [m.kind for m in stored] == ["fact"]


def test_a_script_that_exits_right_after_keeps_every_memory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    script = textwrap.dedent(f"""
        from memori import Memori
        mem = Memori({url!r}, embedder="hash", extractor=None)
        mem.attribution(entity_id="alice")
        mem.remember_many(["fact %d about the garden" % i for i in range(300)])
    """)  # no flush, no close: the interpreter just ends
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with Memori(url, embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="alice")
        assert len(mem.list_memories(limit=1000)) == 300
        assert "fact 7 about the garden" in [h.content for h in mem.recall("fact 7 garden")]


def test_same_outcome_as_remember_one_by_one(tmp_path: Path) -> None:
    items: list[str | dict[str, object]] = [
        "Has 14 plants.", "has 14 plants", "Has 38 plants.", "Lives in Lyon.",
        "Allergic to peanuts.", "Lives in Lyon!",
        {"text": "Lives in Paris.", "metadata": {"slot": "lives_in"}},
        {"text": "Lives in Berlin.", "metadata": {"slot": "lives_in"}},
        {"text": "Has 14 plants", "pinned": True},
    ]

    def outcome(name: str, many: bool) -> list[tuple[object, ...]]:
        with Memori(f"sqlite:///{tmp_path / name}", embedder="hash", extractor=None) as m:
            m.attribution(entity_id="alice", process_id="coach")
            m.remember("Allergic to peanuts.")
            if many:
                m.remember_many(items)
            else:
                for item in items:
                    if isinstance(item, str):
                        m.remember(item)
                    else:
                        m.remember(**item)  # type: ignore[arg-type]
            return sorted((x.content, x.count, x.pinned, x.superseded_by is not None)
                          for x in m.list_memories(limit=100, include_superseded=True))

    one_by_one = outcome("one.db", many=False)
    assert outcome("many.db", many=True) == one_by_one
    assert ("Has 14 plants.", 3, True, False) in one_by_one  # merged twice, pinned by the third
    assert ("Lives in Paris.", 1, False, True) in one_by_one  # superseded by Berlin


def test_a_store_failing_mid_call_keeps_earlier_batches_and_a_rerun_completes(
    alice: Memori, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import memori.bulk
    from memori.core import StoreUnavailableError

    monkeypatch.setattr(memori.bulk, "BATCH", 4)
    texts = [f"Fact number {i} about the garden." for i in range(10)]
    real_put = alice.store.put_memories
    calls = {"n": 0}

    def put_failing_on_the_second_batch(memories: list) -> None:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreUnavailableError("the store went away")
        real_put(memories)

    monkeypatch.setattr(alice.store, "put_memories", put_failing_on_the_second_batch)
    with pytest.raises(StoreUnavailableError):
        alice.remember_many(texts)
    stored = sorted(m.content for m in alice.list_memories(limit=100))
    assert stored == sorted(texts[:4])  # the first batch landed whole, nothing after it
    alice.remember_many(texts)  # the store is back: the same call again
    after = alice.list_memories(limit=100)
    assert sorted(m.content for m in after) == sorted(texts)  # all, none twice
    assert sorted(m.count for m in after) == [1] * 6 + [2] * 4  # the first four seen again
