"""Chat completions through a registered real openai client against the loopback server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from context_blocks import blocks
from memori import Memori
from memori.core import ClientAlreadyRegisteredError, Scope, Turn
from memori.llm.context import OPEN_TAG
from memori.retrieval import count_tokens
from memori.testing import OpenAIServer, Reply, ToolCall

MODEL = "gpt-4o-mini"


@pytest.fixture
def client(mem: Memori, openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    c = mem.llm.register(openai_server.client())
    yield c
    c.close()


@pytest.fixture
async def aclient(mem: Memori, openai_server: OpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = mem.llm.register(openai_server.async_client())
    yield c
    await c.close()


def sent_text(server: OpenAIServer) -> str:
    """Everything the last chat request carried, as one string."""
    return "\n".join(str(m.get("content")) for m in server.last_request("chat").messages)


def stored(mem: Memori, entity: str, process: str | None = None,
           session: str | None = None) -> list[Turn]:
    mem.flush()
    return mem.store.list_turns(Scope(entity, process, session))


def say(client: openai.OpenAI, text: str, **kwargs: Any) -> str:
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], **kwargs
    )
    return r.choices[0].message.content or ""


# the seed scenario
def test_seed_scenario_personas_see_only_their_own_memories(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    say(client, "Goal: sub-25 5K by June.")
    mem.flush()
    mem.attribution(entity_id="alice@example.com", process_id="meal-planner")
    say(client, "I am vegetarian and I prefer lentils.")
    planner_first = sent_text(openai_server)
    mem.flush()
    mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    say(client, "Remind me of my running goal.")
    coach = openai_server.last_request("chat").messages
    mem.attribution(entity_id="alice@example.com", process_id="meal-planner")
    # two questions: the relevance floor shows a memory only with evidence that it is
    # about the question (diet / vegetarian alone is below it); the first would pass
    # it with the coach's goal, were the coach's memories visible to the planner
    say(client, "What is my running goal?")
    planner_later = sent_text(openai_server)
    say(client, "What do I prefer for dinner?")
    planner_later += sent_text(openai_server)

    assert "5K" not in planner_first and "5K" not in planner_later
    assert len(blocks(coach)) == 1 and "sub-25 5K by June" in blocks(coach)[0]
    assert "vegetarian" not in "\n".join(str(m["content"]) for m in coach)
    assert "lentils" not in "\n".join(str(m["content"]) for m in coach)
    assert "vegetarian" in planner_later  # the planner does recall its own preference


async def test_seed_scenario_async(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    async def say_async(text: str) -> None:
        await aclient.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": text}])

    mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    await say_async("Goal: sub-25 5K by June.")
    await mem.aflush()
    mem.attribution(entity_id="alice@example.com", process_id="meal-planner")
    await say_async("I am vegetarian.")
    assert "5K" not in sent_text(openai_server)
    await mem.aflush()
    mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    await say_async("Remind me of my running goal.")
    coach = sent_text(openai_server)
    assert "sub-25 5K by June" in coach and "vegetarian" not in coach


# the caller's objects
def test_reused_messages_list_is_left_unchanged(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("The user's cat is called Miso.")
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What is my cat called?"},
    ]
    before = copy.deepcopy(messages)
    for _ in range(3):
        client.chat.completions.create(model=MODEL, messages=messages)
        sent = openai_server.last_request("chat").messages
        assert len(blocks(sent)) == 1 and "Miso" in blocks(sent)[0]
        assert sent[0] == before[0] and sent[1]["content"].startswith(OPEN_TAG)
    assert messages == before


def test_messages_given_as_a_one_shot_iterator_reach_the_model(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    one_shot = iter([{"role": "user", "content": "hello from a generator"}])
    r = client.chat.completions.create(model=MODEL, messages=one_shot)
    assert r.choices[0].message.content == "echo: hello from a generator"
    assert stored(mem, "u1")[0].content == "hello from a generator"


# sessions and attribution
def test_first_message_of_a_new_session_is_stored(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="u1", process_id="p")
    say(client, "earlier conversation")
    session = mem.new_session()
    say(client, "first message of the new session")
    turns = stored(mem, "u1", "p", session)
    assert [(t.role, t.content) for t in turns] == [
        ("user", "first message of the new session"),
        ("assistant", "echo: first message of the new session"),
    ]


def test_attribution_change_without_session_starts_clean(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="alice")
    say(client, "my locker code is 4471")
    say(client, "and my badge is ZX-9")
    mem.attribution(entity_id="bob")  # no session named: a new one
    say(client, "what codes do you know?")
    sent = sent_text(openai_server)
    assert "4471" not in sent and "ZX-9" not in sent
    assert blocks(openai_server.last_request("chat").messages) == []
    alice = [t.content for t in stored(mem, "alice")]
    bob = [t.content for t in stored(mem, "bob")]
    assert not any("codes do you know" in c for c in alice)
    assert bob == ["what codes do you know?", "echo: what codes do you know?"]


def test_session_history_is_injected_within_the_budget(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.token_budget = 150
    mem.attribution(entity_id="u1")
    for i in range(30):
        say(client, f"message number {i} about nothing in particular")
    block = blocks(openai_server.last_request("chat").messages)[0]
    assert count_tokens(block) <= 150
    history = block.split("Recent conversation in this session:\n", 1)[1]
    assert "message number 28" in history and "message number 0 " not in history


def test_resending_the_whole_conversation_stores_each_message_once(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    messages: list[Any] = [{"role": "user", "content": "hi, I'm Ann"}]
    for follow_up in ("I live in Oslo", "I like skiing"):
        r = client.chat.completions.create(model=MODEL, messages=messages)
        messages = [*messages, r.choices[0].message, {"role": "user", "content": follow_up}]
    client.chat.completions.create(model=MODEL, messages=messages)
    contents = [t.content for t in stored(mem, "u1")]
    assert contents == [
        "hi, I'm Ann", "echo: hi, I'm Ann", "I live in Oslo", "echo: I live in Oslo",
        "I like skiing", "echo: I like skiing",
    ]
    # what the caller already sent is not repeated in the block
    block = "".join(blocks(openai_server.last_request("chat").messages))
    assert "I live in Oslo" not in block


# tool calls
def test_tool_calls_and_tool_results_are_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply.tools(ToolCall("get_weather", {"city": "Oslo"}, id="call_7")))
    messages: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages)
    messages += [first.choices[0].message,
                 {"role": "tool", "tool_call_id": "call_7", "content": "12C and rain"}]
    openai_server.enqueue("It is 12C and raining in Oslo.")
    client.chat.completions.create(model=MODEL, messages=messages)
    turns = stored(mem, "u1")
    assert [t.role for t in turns] == ["user", "assistant", "tool", "assistant"]
    assert turns[1].metadata["tool_calls"] == [{
        "id": "call_7", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]
    assert turns[2].content == "12C and rain" and turns[2].metadata["tool_call_id"] == "call_7"
    assert turns[3].content == "It is 12C and raining in Oslo."


# streaming
def test_stream_passes_chunks_through_and_records_at_the_end(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    bare = openai_server.client()
    openai_server.enqueue("one two three four")
    expected = [c.choices[0].delta.content for c in bare.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "count"}], stream=True)]
    mem.attribution(entity_id="u1")
    openai_server.enqueue("one two three four")
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "count"}], stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert all(type(c).__name__ == "ChatCompletionChunk" for c in chunks)
    assert [c.choices[0].delta.content for c in chunks] == expected
    turns = stored(mem, "u1")
    assert [(t.role, t.content) for t in turns] == [
        ("user", "count"), ("assistant", "one two three four")]
    assert "partial" not in turns[1].metadata and turns[1].metadata["finish_reason"] == "stop"
    bare.close()


def test_stream_closed_early_is_recorded_as_partial(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="alpha beta gamma delta epsilon zeta eta theta",
                                chunk_delay=0.01))
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "greek"}], stream=True)
    got = [next(stream) for _ in range(3)]  # role chunk + two words
    stream.close()
    text = "".join(c.choices[0].delta.content or "" for c in got)
    turns = stored(mem, "u1")
    assert turns[1].content == text == "alpha beta "
    assert turns[1].metadata["partial"] is True
    assert mem.llm.stats.partial_replies == 1


def test_stream_left_by_break_is_recorded_as_partial(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="a b c d e f g h", chunk_delay=0.01))
    with client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "letters"}], stream=True
    ) as stream:
        for chunk in stream:
            if chunk.choices[0].delta.content == "b ":
                break
    turns = stored(mem, "u1")
    assert turns[1].content == "a b " and turns[1].metadata["partial"] is True


def test_stream_error_midway_is_recorded_as_partial_with_the_error_type(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="so far so good", stream_error="overloaded"))
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    reply = stored(mem, "u1")[1]
    assert reply.content == "so far so good"
    assert reply.metadata["partial"] is True and reply.metadata["error"] == "APIError"


def test_streamed_tool_calls_are_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply.tools(ToolCall("lookup", {"query": "a long query text"}, id="c9")))
    list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "look it up"}], stream=True))
    reply = stored(mem, "u1")[1]
    assert reply.metadata["tool_calls"] == [{
        "id": "c9", "type": "function",
        "function": {"name": "lookup", "arguments": '{"query":"a long query text"}'}}]
    assert reply.metadata["finish_reason"] == "tool_calls"


async def test_async_stream_records_at_the_end_and_partial_on_close(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue("one two three")
    stream = await aclient.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "full"}], stream=True)
    assert isinstance(stream, openai.AsyncStream)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "one two three"
    openai_server.enqueue(Reply(text="four five six seven", chunk_delay=0.01))
    stream = await aclient.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "cut"}], stream=True)
    got = [await stream.__anext__() for _ in range(2)]
    await stream.close()
    assert "".join(c.choices[0].delta.content or "" for c in got) == "four "
    turns = await mem.aflush() and stored(mem, "u1")
    assert [(t.content, t.metadata.get("partial", False)) for t in turns] == [
        ("full", False), ("one two three", False), ("cut", False), ("four ", True)]


def test_stream_helper_is_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("The user's favourite colour is teal.")
    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "favourite colour?"}]
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "echo: favourite colour?"
    assert "teal" in blocks(openai_server.last_request("chat").messages)[0]
    assert [t.content for t in stored(mem, "u1")] == [
        "favourite colour?", "echo: favourite colour?"]


# other entry points
def test_with_raw_response_and_parse_are_intercepted(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("The user is allergic to peanuts.")
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "allergies?"}])
    assert raw.headers["x-request-id"].startswith("req_memori")
    assert raw.parse().choices[0].message.content == "echo: allergies?"
    assert "peanuts" in blocks(openai_server.last_request("chat").messages)[0]

    raw = client.with_raw_response.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "raw stream"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse()) == "echo: raw stream"

    class Answer(BaseModel):
        answer: str

    parsed = client.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "structured"}], response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(answer="structured")
    assert len(blocks(openai_server.last_request("chat").messages)) == 1
    assert [t.content for t in stored(mem, "u1")] == [
        "allergies?", "echo: allergies?", "raw stream", "echo: raw stream",
        "structured", '{"answer":"structured"}']


# pausing, registration
def test_paused_calls_neither_read_nor_write(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("remembered fact about paused")
    with mem.paused():
        say(client, "paused call about paused")
        list(client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "paused stream"}], stream=True))
    assert blocks(openai_server.last_request("chat").messages) == []
    assert stored(mem, "u1") == []
    say(client, "unpaused call about paused")
    assert len(blocks(openai_server.last_request("chat").messages)) == 1


def test_register_twice_is_a_no_op(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    assert mem.llm.register(client) is client
    mem.attribution(entity_id="u1")
    mem.remember("fact about twice")
    say(client, "twice?")
    assert len(blocks(openai_server.last_request("chat").messages)) == 1
    assert [t.content for t in stored(mem, "u1")] == ["twice?", "echo: twice?"]


def test_second_memori_on_one_client_is_a_clear_error(
    mem: Memori, client: openai.OpenAI, tmp_path: Any
) -> None:
    with Memori(f"sqlite:///{tmp_path / 'other.db'}", embedder="hash") as other:
        with pytest.raises(ClientAlreadyRegisteredError, match="another Memori"):
            other.llm.register(client)
        mem.llm.unregister(client)
        other.llm.register(client)
        assert other.llm.is_registered(client) and not mem.llm.is_registered(client)


def test_unregister_restores_the_client(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    assert "create" in vars(client.chat.completions)
    assert mem.llm.unregister(client) is True
    assert "create" not in vars(client.chat.completions)
    assert "parse" not in vars(client.responses)
    mem.attribution(entity_id="u1")
    mem.remember("fact about restore")
    say(client, "restore?")
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "restore raw?"}])
    raw.parse()
    assert blocks(openai_server.last_request("chat").messages) == []
    assert stored(mem, "u1") == []
    assert mem.llm.unregister(client) is False


def test_close_unregisters(mem: Memori, openai_server: OpenAIServer, tmp_path: Any) -> None:
    other = Memori(f"sqlite:///{tmp_path / 'other.db'}", embedder="hash")
    c = other.llm.register(openai_server.client())
    other.close()
    assert "create" not in vars(c.chat.completions)
    mem.llm.register(c)  # free for another Memori


def test_clients_made_with_with_options_remember_too(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    derived = client.with_options(timeout=30)
    assert mem.llm.is_registered(derived)
    say(derived, "via with_options")
    assert stored(mem, "u1")[0].content == "via with_options"


def test_calls_without_attribution_pass_through(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    assert say(client, "who am I?") == "echo: who am I?"
    assert mem.llm.stats.passthrough == 1
    mem.strict = True
    with pytest.raises(ValueError, match="attribution"):
        say(client, "who am I?")


def test_only_openai_clients_can_be_registered(mem: Memori) -> None:
    with pytest.raises(TypeError, match=r"openai\.OpenAI"):
        mem.llm.register(object())


def test_azure_client_is_intercepted(mem: Memori, openai_server: OpenAIServer) -> None:
    azure = openai.AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint=openai_server.url, max_retries=0,
    )
    mem.llm.register(azure)
    mem.attribution(entity_id="u1")
    mem.remember("Azure users like blue.")
    say(azure, "what do Azure users like?")
    request = openai_server.last_request("chat")
    assert request.path == f"/openai/deployments/{MODEL}/chat/completions"
    assert "like blue" in blocks(request.messages)[0]
    assert stored(mem, "u1")[0].content == "what do Azure users like?"
    azure.close()


# the session history cache
def test_forget_drops_the_entitys_cached_history(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    say(client, "my bank PIN is 8812")
    mem.forget(entity_id="u1")
    say(client, "what do you know about me?")
    assert "8812" not in sent_text(openai_server)
    assert [t.content for t in stored(mem, "u1")] == [
        "what do you know about me?", "echo: what do you know about me?"]


def test_turns_written_by_another_instance_reach_the_history(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer, sqlite_url: str
) -> None:
    mem.llm.engine.sessions.ttl = 0.0  # reload from the store on every call
    with Memori(sqlite_url, embedder="hash") as other:
        other_client = other.llm.register(openai_server.client())
        mem.attribution(entity_id="u1", session_id="shared-session")
        other.attribution(entity_id="u1", session_id="shared-session")
        say(client, "first, from the web worker")
        mem.flush()
        say(other_client, "second, from the other worker")
        assert "user: first, from the web worker" in sent_text(openai_server)
        other.flush()
        say(client, "third")
        assert "user: second, from the other worker" in sent_text(openai_server)
        other_client.close()
    assert [t.content for t in stored(mem, "u1")] == [
        "first, from the web worker", "echo: first, from the web worker",
        "second, from the other worker", "echo: second, from the other worker",
        "third", "echo: third"]


async def test_async_raw_response_and_beta_parse(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    await mem.aremember("The user's train leaves at 7.")
    raw = await aclient.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "when does my train leave?"}])
    assert raw.parse().choices[0].message.content == "echo: when does my train leave?"
    assert "leaves at 7" in blocks(openai_server.last_request("chat").messages)[0]
    raw = await aclient.with_raw_response.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "async raw stream"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in raw.parse()])
    assert text == "echo: async raw stream"

    class Answer(BaseModel):
        answer: str

    parsed = await aclient.beta.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "beta"}], response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(answer="beta")
    block = blocks(openai_server.last_request("chat").messages)
    assert len(block) == 1 and "user: async raw stream" in block[0]
    await mem.aflush()
    assert [t.content for t in stored(mem, "u1")] == [
        "when does my train leave?", "echo: when does my train leave?",
        "async raw stream", "echo: async raw stream", "beta", '{"answer":"beta"}']


def test_a_pasted_document_is_stored_whole_but_recalled_by_its_end(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    queries: list[str] = []
    retrieve = mem.retriever.retrieve

    def watched(store: Any, scope: Scope, query: str, **kwargs: Any) -> Any:
        queries.append(query)
        return retrieve(store, scope, query, **kwargs)

    mem.retriever.retrieve = watched  # type: ignore[method-assign]
    mem.attribution(entity_id="u1")
    document = "lorem ipsum dolor " * 3000 + "so what is the summary?"
    say(client, document)
    assert len(queries[-1]) == 2000 and queries[-1].endswith("so what is the summary?")
    assert stored(mem, "u1")[0].content == document


def test_the_users_own_questions_do_not_take_the_places_of_memories(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    """The block leaves out the user's own earlier questions (and acknowledgements);
    a call recalls half as many hits again as it shows, so they leave no place empty."""
    mem.recall_limit = 4
    mem.attribution(entity_id="u1")
    scope = mem.scope()
    assert scope.session_id is not None
    mem.record([Turn(entity_id="u1", session_id=scope.session_id, role="user", content=q)
                for q in ("What tea do I like?", "Which tea do I like best?")])
    facts = ["I like green tea with jasmine.", "I drink oolong tea in winter.",
             "My favourite tea shop is in Kyoto.", "I never drink black tea after noon."]
    for fact in facts:
        mem.remember(fact)
    mem.flush()
    mem.new_session()
    question = "So, what tea do I like?"
    first = [h.content for h in mem.retriever.retrieve(mem.store, Scope("u1"), question,
                                                        limit=4)]
    assert {"What tea do I like?", "Which tea do I like best?"} & set(first)  # they rank
    say(client, question)
    block = blocks(openai_server.last_request("chat").messages)[0]
    assert all(fact in block for fact in facts), block
    assert "Which tea do I like best?" not in block and "What tea do I like?" not in block


# the assembly begun before recall (the block's history and pinned part, the new turns)
def test_the_block_begun_before_recall_is_the_block_built_after_it(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sync call on SQLite works out the block's history and pinned part and the new
    turns while the query is embedded; the call's plan is the one built after recall."""
    mem.attribution(entity_id="alice", process_id="coach")
    mem.remember("Allergic to peanuts.", pinned=True)
    mem.remember("Runs 5K on Sundays.")
    say(client, "I train for a 5K.")
    engine = mem.llm.engine
    assert engine.reads_locally
    assemble = engine._assemble
    compared: list[bool] = []

    def both(api: Any, scope: Any, request: Any, history: Any, hits: Any, pinned: Any,
             assembly: Any = None) -> Any:
        plan = assemble(api, scope, request, history, hits, pinned, assembly)
        late = assemble(api, scope, request, history, hits, pinned, None)
        compared.append(assembly is not None)
        assert plan.block == late.block and plan.kwargs == late.kwargs
        assert [(t.role, t.content) for t in plan.turns] == \
            [(t.role, t.content) for t in late.turns]
        return plan

    monkeypatch.setattr(engine, "_assemble", both)
    say(client, "When do I run?")
    assert compared == [True]
    (block,) = blocks(openai_server.last_request("chat").messages)
    assert "Allergic to peanuts." in block and "Runs 5K on Sundays." in block
    assert "I train for a 5K." in block
    assert [t.content for t in stored(mem, "alice", "coach")].count("When do I run?") == 1


def test_a_failure_in_the_early_assembly_leaves_the_call_as_it_was(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If working out the block early fails, the call builds it after recall as before."""
    mem.attribution(entity_id="bob", process_id="coach")
    mem.remember("Lives in Oslo.")
    engine = mem.llm.engine
    prepare = engine._prepare_assembly
    calls: list[int] = []

    def fails_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("early")
        return prepare(*args)

    monkeypatch.setattr(engine, "_prepare_assembly", fails_once)
    say(client, "Where do I live?")
    assert len(calls) == 2
    (block,) = blocks(openai_server.last_request("chat").messages)
    assert "Lives in Oslo." in block
    assert mem.llm.stats.read_failures == 0
