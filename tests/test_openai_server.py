"""The OpenAI test server, driven by the real openai client (sync and async) over loopback HTTP."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
import pytest
from openai import AsyncOpenAI, OpenAI

from memori.testing import Endpoint, OpenAIServer, RecordedRequest, Reply, ToolCall
from memori.testing.openai_defaults import example_for_schema
from memori.testing.openai_embeddings import embed_text

CHAT_MODEL = "gpt-4o-mini"
EXTRACTOR_MODEL = "extractor-mini"
EMBED_MODEL = "text-embedding-3-small"


class Facts(pydantic.BaseModel):
    facts: list[str]
    confidence: float


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(embedding_dim=32) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: OpenAIServer) -> Iterator[None]:
    server.clear()
    yield
    server.clear()


@pytest.fixture()
def client(server: OpenAIServer) -> Iterator[OpenAI]:
    with server.client() as sync_client:
        yield sync_client


@pytest.fixture()
async def aclient(server: OpenAIServer) -> AsyncIterator[AsyncOpenAI]:
    async with server.async_client() as async_client:
        yield async_client


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# -- chat completions ----------------------------------------------------------------------


def test_chat_default_reply_echoes_last_user_message(server: OpenAIServer, client: OpenAI) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "my goal is a sub-25 5K"}]},
    ]
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=messages)

    assert completion.object == "chat.completion"
    assert completion.model == CHAT_MODEL
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: my goal is a sub-25 5K"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7  # words of the reply
    assert completion.usage.prompt_tokens == 10  # words of all messages
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    recorded = server.last_request()
    assert recorded.method == "POST"
    assert recorded.path == "/v1/chat/completions"
    assert recorded.endpoint == "chat"
    assert recorded.model == CHAT_MODEL
    assert recorded.json["messages"] == messages
    assert recorded.headers["authorization"] == "Bearer sk-memori-test"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.last_user_text == "my goal is a sub-25 5K"
    assert recorded.stream is False


def test_chat_stream_with_usage_yields_deltas_finish_and_usage_chunk(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue("Sub-25 by June, noted.")
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=_user("goal?"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Sub-25 by June, noted."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(reason is None for reason in finishes[:-1])
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == 4
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert server.last_request().stream is True


def test_chat_stream_without_include_usage_has_no_usage_chunk(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("hi"), stream=True)
    )
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: hi"


def test_chat_chunk_size_controls_stream_deltas(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="abcdefg", chunk_size=3))
    chunks = list(
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"), stream=True)
    )
    deltas = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert deltas == ["abc", "def", "g"]


def test_empty_text_reply_stays_empty(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue("", "")
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    assert completion.choices[0].message.content == ""
    chunks = list(
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"), stream=True)
    )
    assert [c.choices[0].delta.content for c in chunks] == ["", None]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_tool_calls_non_stream(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(
        Reply.tools(
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_time", {"tz": "CET"}, id="call_fixed"),
        )
    )
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=_user("weather?"))

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [call.type for call in calls] == ["function", "function"]
    assert [call.function.name for call in calls if call.type == "function"] == [
        "get_weather",
        "get_time",
    ]
    first, second = calls
    assert first.type == "function" and json.loads(first.function.arguments) == {"city": "Paris"}
    assert second.id == "call_fixed"
    assert first.id != second.id


def test_chat_tool_calls_stream_as_deltas_and_reassemble(
    server: OpenAIServer, client: OpenAI
) -> None:
    arguments = {"city": "Paris", "unit": "celsius", "days": 3}
    server.enqueue(Reply.tools(ToolCall("get_weather", arguments), text="Checking."))
    raw = list(
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("weather?"), stream=True)
    )
    tool_deltas = [d for c in raw for d in (c.choices[0].delta.tool_calls or [])]
    assert tool_deltas[0].id is not None
    assert tool_deltas[0].function is not None and tool_deltas[0].function.name == "get_weather"
    assert len(tool_deltas) > 2  # the arguments arrive in several fragments
    joined = "".join((d.function.arguments or "") for d in tool_deltas if d.function)
    assert json.loads(joined) == arguments
    assert raw[-1].choices[0].finish_reason == "tool_calls"

    server.enqueue(Reply.tools(ToolCall("get_weather", arguments), text="Checking."))
    with client.chat.completions.stream(model=CHAT_MODEL, messages=_user("again")) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Checking."
    call = (message.tool_calls or [])[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == arguments


def test_chat_parse_default_reply_satisfies_the_schema(
    server: OpenAIServer, client: OpenAI
) -> None:
    completion = client.chat.completions.parse(
        model=CHAT_MODEL, messages=_user("I like green tea"), response_format=Facts
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == Facts(facts=["I like green tea"], confidence=0.0)
    response_format = server.last_request().json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Facts"


def test_chat_parse_uses_scripted_json(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply.json({"facts": ["runs 5K", "likes tea"], "confidence": 0.9}))
    completion = client.chat.completions.parse(
        model=CHAT_MODEL, messages=_user("x"), response_format=Facts
    )
    assert completion.choices[0].message.parsed == Facts(
        facts=["runs 5K", "likes tea"], confidence=0.9
    )


def test_malformed_json_content_is_sent_verbatim(server: OpenAIServer, client: OpenAI) -> None:
    broken = '{"facts": ["runs 5K", '
    server.enqueue(broken, broken)
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    assert completion.choices[0].message.content == broken
    with pytest.raises(pydantic.ValidationError):
        client.chat.completions.parse(model=CHAT_MODEL, messages=_user("x"), response_format=Facts)


def test_length_finish_reason_surfaces_in_parse(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text='{"facts": [', finish_reason="length"))
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model=CHAT_MODEL, messages=_user("x"), response_format=Facts)


def test_json_object_mode_default_reply_is_json(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL, messages=_user("hello"), response_format={"type": "json_object"}
    )
    assert json.loads(completion.choices[0].message.content or "") == {"echo": "hello"}


# -- responses -------------------------------------------------------------------------------


def test_responses_string_input_with_instructions(server: OpenAIServer, client: OpenAI) -> None:
    response = client.responses.create(
        model=CHAT_MODEL, instructions="You are a coach.", input="plan my week"
    )
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "echo: plan my week"
    assert response.instructions == "You are a coach."
    assert response.usage is not None and response.usage.output_tokens == 4
    recorded = server.last_request(Endpoint.RESPONSES)
    assert recorded.path == "/v1/responses"
    assert recorded.messages == [
        {"role": "system", "content": "You are a coach."},
        {"role": "user", "content": "plan my week"},
    ]


def test_responses_message_list_input(server: OpenAIServer, client: OpenAI) -> None:
    response = client.responses.create(
        model=CHAT_MODEL,
        input=[
            {"role": "user", "content": "old question"},
            {"role": "assistant", "content": "old answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "new question"}]},
        ],
    )
    assert response.output_text == "echo: new question"
    assert server.last_request().last_user_text == "new question"


def test_responses_stream_follows_the_api_event_sequence(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue("one two three")
    events = list(client.responses.create(model=CHAT_MODEL, input="go", stream=True))

    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "one two three"
    created, completed = events[0], events[-1]
    assert created.type == "response.created" and created.response.status == "in_progress"
    assert completed.type == "response.completed"
    assert completed.response.id == created.response.id
    assert completed.response.output_text == "one two three"
    assert completed.response.usage is not None


def test_responses_stream_helper_builds_the_final_response(client: OpenAI) -> None:
    with client.responses.stream(model=CHAT_MODEL, input="stream me") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "echo: stream me"
    assert final.output_text == "echo: stream me"


def test_responses_tool_calls_json_and_stream(server: OpenAIServer, client: OpenAI) -> None:
    call = ToolCall("remember", {"fact": "sub-25 5K"}, id="call_r1")
    server.enqueue(Reply.tools(call), Reply.tools(call))

    response = client.responses.create(model=CHAT_MODEL, input="save it")
    items = [item for item in response.output if item.type == "function_call"]
    assert len(items) == 1 and len(response.output) == 1
    assert items[0].name == "remember"
    assert items[0].call_id == "call_r1"
    assert json.loads(items[0].arguments) == {"fact": "sub-25 5K"}

    events = list(client.responses.create(model=CHAT_MODEL, input="save it", stream=True))
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert json.loads("".join(deltas)) == {"fact": "sub-25 5K"}
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"fact": "sub-25 5K"}
    assert events[-1].type == "response.completed"


def test_responses_parse_with_text_format(server: OpenAIServer, client: OpenAI) -> None:
    parsed = client.responses.parse(model=CHAT_MODEL, input="likes tea", text_format=Facts)
    assert parsed.output_parsed == Facts(facts=["likes tea"], confidence=0.0)
    server.enqueue(Reply.json({"facts": ["a"], "confidence": 1.0}))
    scripted = client.responses.parse(model=CHAT_MODEL, input="x", text_format=Facts)
    assert scripted.output_parsed == Facts(facts=["a"], confidence=1.0)
    assert server.last_request().json["text"]["format"]["type"] == "json_schema"


def test_responses_length_finish_is_incomplete(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(*[Reply(text="cut", finish_reason="length")] * 2)
    response = client.responses.create(model=CHAT_MODEL, input="x")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    events = list(client.responses.create(model=CHAT_MODEL, input="x", stream=True))
    assert events[-1].type == "response.incomplete"


# -- embeddings and models -------------------------------------------------------------------


def test_embeddings_default_base64_decodes_to_the_deterministic_vectors(
    server: OpenAIServer, client: OpenAI
) -> None:
    result = client.embeddings.create(model=EMBED_MODEL, input=["morning run", "green tea"])

    assert server.last_request().json["encoding_format"] == "base64"
    assert [item.index for item in result.data] == [0, 1]
    for item, text in zip(result.data, ["morning run", "green tea"], strict=True):
        assert len(item.embedding) == 32
        assert item.embedding == pytest.approx(embed_text(text, 32), abs=1e-6)
        assert math.sqrt(sum(v * v for v in item.embedding)) == pytest.approx(1.0, abs=1e-5)
    assert result.usage.prompt_tokens == 4


def test_embeddings_float_format_and_dimensions(server: OpenAIServer, client: OpenAI) -> None:
    result = client.embeddings.create(
        model=EMBED_MODEL, input="morning run", encoding_format="float", dimensions=8
    )
    assert result.data[0].embedding == pytest.approx(embed_text("morning run", 8))
    recorded = server.last_request(Endpoint.EMBEDDINGS)
    assert recorded.json["encoding_format"] == "float"
    assert recorded.json["dimensions"] == 8


def test_embeddings_are_deterministic_and_word_overlap_raises_similarity(client: OpenAI) -> None:
    texts = ["I run every morning", "I run every morning", "every morning I run", "tea recipes"]
    vectors = [d.embedding for d in client.embeddings.create(model=EMBED_MODEL, input=texts).data]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert vectors[0] == vectors[1]
    assert cosine(vectors[0], vectors[2]) == pytest.approx(1.0, abs=1e-6)
    assert cosine(vectors[0], vectors[2]) > cosine(vectors[0], vectors[3])


def test_embeddings_reject_empty_input(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model=EMBED_MODEL, input=[], encoding_format="float")
    assert raised.value.status_code == 400


def test_models_list_and_retrieve(client: OpenAI) -> None:
    assert [model.id for model in client.models.list()] == [
        "gpt-4o-mini",
        "gpt-4.1-mini",
        "text-embedding-3-small",
    ]
    assert client.models.retrieve(CHAT_MODEL).id == CHAT_MODEL
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.code == "model_not_found"


# -- raw responses, errors and delays --------------------------------------------------------


def test_with_raw_response_exposes_status_headers_and_parsed_body(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue(Reply(text="raw hello", headers={"x-custom": "yes"}))
    raw = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=_user("x"))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-custom"] == "yes"
    assert raw.headers["x-request-id"].startswith("req_memori")
    assert raw.parse().choices[0].message.content == "raw hello"
    assert json.loads(raw.text)["object"] == "chat.completion"


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
    ],
)
def test_error_statuses_raise_the_matching_openai_exception(
    server: OpenAIServer,
    client: OpenAI,
    status: int,
    exception: type[openai.APIStatusError],
    error_type: str,
) -> None:
    server.enqueue(Reply.error(status, "scripted failure", headers={"retry-after": "7"}))
    with pytest.raises(exception) as raised:
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    error = raised.value
    assert error.status_code == status
    assert error.type == error_type
    assert "scripted failure" in error.message
    assert error.response.headers["retry-after"] == "7"
    assert isinstance(error.body, dict) and error.body["message"] == "scripted failure"


def test_error_on_stream_request_raises_before_iteration(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue(Reply.error(429, code="rate_limit_exceeded"))
    with pytest.raises(openai.RateLimitError) as raised:
        client.responses.create(model=CHAT_MODEL, input="x", stream=True)
    assert raised.value.code == "rate_limit_exceeded"


def test_error_scripted_for_embeddings(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply.error(500), endpoint="embeddings")
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model=EMBED_MODEL, input="x")
    assert len(client.embeddings.create(model=EMBED_MODEL, input="x").data) == 1


def test_in_band_stream_errors(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="partial answer", stream_error="overloaded"))
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="overloaded"):
        for chunk in client.chat.completions.create(
            model=CHAT_MODEL, messages=_user("x"), stream=True
        ):
            seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "partial answer"

    server.enqueue(Reply(text="partial", stream_error="overloaded"))
    events = list(client.responses.create(model=CHAT_MODEL, input="x", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.error is not None
    assert failed.response.error.message == "overloaded"


def test_total_delay_holds_the_reply(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(delay=0.2))
    started = time.perf_counter()
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=_user("slow"))
    assert time.perf_counter() - started >= 0.2
    assert completion.choices[0].message.content == "echo: slow"  # default text kept


def test_chunk_delay_spaces_stream_events(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b c d", chunk_delay=0.03))
    arrivals: list[float] = []
    for _ in client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"), stream=True):
        arrivals.append(time.perf_counter())
    # role chunk, four content chunks, finish chunk: five gaps of at least 30 ms
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 5 * 0.03 * 0.9


# -- routing and responders ------------------------------------------------------------------


def test_replies_scripted_for_a_model_do_not_disturb_other_models(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue(Reply.json({"facts": ["x"], "confidence": 1}), model=EXTRACTOR_MODEL)
    server.enqueue("generic one")
    assert server.pending() == 2
    assert server.pending(EXTRACTOR_MODEL) == 1

    chat = client.chat.completions.create(model=CHAT_MODEL, messages=_user("hi"))
    assert chat.choices[0].message.content == "generic one"
    chat = client.chat.completions.create(model=CHAT_MODEL, messages=_user("hi"))
    assert chat.choices[0].message.content == "echo: hi"
    extracted = client.chat.completions.create(model=EXTRACTOR_MODEL, messages=_user("hi"))
    assert json.loads(extracted.choices[0].message.content or "") == {
        "facts": ["x"],
        "confidence": 1,
    }
    assert server.pending() == 0
    assert [r.model for r in server.chat_requests()] == [CHAT_MODEL, CHAT_MODEL, EXTRACTOR_MODEL]
    assert len(server.chat_requests(model=EXTRACTOR_MODEL)) == 1


def test_model_specific_reply_is_served_before_a_generic_one(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue("generic")
    server.enqueue("for the extractor", model=EXTRACTOR_MODEL)
    first = client.chat.completions.create(model=EXTRACTOR_MODEL, messages=_user("x"))
    assert first.choices[0].message.content == "for the extractor"
    second = client.chat.completions.create(model=EXTRACTOR_MODEL, messages=_user("x"))
    assert second.choices[0].message.content == "generic"


def test_generic_reply_is_served_once_across_endpoints(
    server: OpenAIServer, client: OpenAI
) -> None:
    server.enqueue("only once")
    assert client.responses.create(model=CHAT_MODEL, input="x").output_text == "only once"
    chat = client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    assert chat.choices[0].message.content == "echo: x"


def test_endpoint_scoped_reply(server: OpenAIServer, client: OpenAI) -> None:
    server.enqueue("for responses", endpoint=Endpoint.RESPONSES)
    chat = client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    assert chat.choices[0].message.content == "echo: x"
    assert client.responses.create(model=CHAT_MODEL, input="x").output_text == "for responses"


def test_responder_scripts_from_the_request_and_can_defer(
    server: OpenAIServer, client: OpenAI
) -> None:
    def responder(request: RecordedRequest) -> Reply | str | None:
        if "weather" in request.last_user_text:
            return Reply.tools(ToolCall("get_weather", {"city": "Oslo"}))
        if "shout" in request.last_user_text:
            return request.last_user_text.upper()
        return None

    server.set_responder(responder)
    server.set_responder(lambda request: "extracted", model=EXTRACTOR_MODEL)
    weather = client.chat.completions.create(model=CHAT_MODEL, messages=_user("weather?"))
    call = (weather.choices[0].message.tool_calls or [])[0]
    assert call.type == "function" and call.function.name == "get_weather"
    shout = client.chat.completions.create(model=CHAT_MODEL, messages=_user("shout it"))
    assert shout.choices[0].message.content == "SHOUT IT"
    plain = client.chat.completions.create(model=CHAT_MODEL, messages=_user("plain"))
    assert plain.choices[0].message.content == "echo: plain"
    extractor = client.chat.completions.create(model=EXTRACTOR_MODEL, messages=_user("weather"))
    assert extractor.choices[0].message.content == "extracted"

    server.enqueue("queued wins")
    queued = client.chat.completions.create(model=CHAT_MODEL, messages=_user("shout"))
    assert queued.choices[0].message.content == "queued wins"
    server.set_responder(None)
    after = client.chat.completions.create(model=CHAT_MODEL, messages=_user("shout"))
    assert after.choices[0].message.content == "echo: shout"


# -- async client ----------------------------------------------------------------------------


async def test_async_chat_and_stream(server: OpenAIServer, aclient: AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.create(model=CHAT_MODEL, messages=_user("a"))
    assert completion.choices[0].message.content == "echo: a"

    server.enqueue(Reply.tools(ToolCall("lookup", {"q": "5K"}), text="Let me check."))
    stream = await aclient.chat.completions.create(
        model=CHAT_MODEL,
        messages=_user("b"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Let me check."
    arguments = "".join(
        (d.function.arguments or "")
        for c in chunks
        if c.choices
        for d in (c.choices[0].delta.tool_calls or [])
        if d.function
    )
    assert json.loads(arguments) == {"q": "5K"}
    assert chunks[-1].usage is not None


async def test_async_responses_stream_and_embeddings(aclient: AsyncOpenAI) -> None:
    async with aclient.responses.stream(model=CHAT_MODEL, input="async hi") as stream:
        types = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert final.output_text == "echo: async hi"

    result = await aclient.embeddings.create(model=EMBED_MODEL, input="async hi")
    assert result.data[0].embedding == pytest.approx(embed_text("async hi", 32), abs=1e-6)


async def test_async_concurrent_requests_are_all_recorded(
    server: OpenAIServer, aclient: AsyncOpenAI
) -> None:
    async def ask(index: int) -> str:
        completion = await aclient.chat.completions.create(
            model=CHAT_MODEL, messages=_user(f"q{index}")
        )
        return completion.choices[0].message.content or ""

    # a burst of 50 new connections at once must not overflow the listen backlog
    answers = await asyncio.gather(*(ask(i) for i in range(50)))
    assert answers == [f"echo: q{i}" for i in range(50)]
    assert sorted(r.last_user_text for r in server.chat_requests()) == sorted(
        f"q{i}" for i in range(50)
    )


async def test_async_error_status(server: OpenAIServer, aclient: AsyncOpenAI) -> None:
    server.enqueue(Reply.error(429))
    with pytest.raises(openai.RateLimitError):
        await aclient.responses.create(model=CHAT_MODEL, input="x")


# -- recording, connections, lifecycle -------------------------------------------------------


def test_threads_share_the_server_safely(server: OpenAIServer) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with server.client() as own:
                for turn in range(5):
                    own.chat.completions.create(model=CHAT_MODEL, messages=_user(f"{index}-{turn}"))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(server.requests) == 30
    assert {r.last_user_text for r in server.requests} == {
        f"{i}-{t}" for i in range(6) for t in range(5)
    }


def test_keep_alive_reuses_one_connection(server: OpenAIServer, client: OpenAI) -> None:
    for _ in range(10):
        client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
        list(client.responses.create(model=CHAT_MODEL, input="x", stream=True))
        client.embeddings.create(model=EMBED_MODEL, input="x")
    assert len(server.requests) == 30
    assert len({r.client_port for r in server.requests}) == 1


def test_requests_record_time_and_query_and_clear(server: OpenAIServer, client: OpenAI) -> None:
    before = time.time()
    client.models.list()
    client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
    recorded = server.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ]
    assert all(before <= r.received_at <= time.time() for r in recorded)
    assert recorded[0].body is None and recorded[0].endpoint is None
    assert server.last_request() is recorded[-1]
    with pytest.raises(LookupError):
        server.last_request(Endpoint.EMBEDDINGS)
    server.enqueue("left over")
    server.clear_requests()
    assert server.requests == [] and server.pending() == 1
    server.clear()
    assert server.pending() == 0


def test_wait_for_requests_from_a_background_thread(server: OpenAIServer) -> None:
    def later() -> None:
        time.sleep(0.05)
        with server.client() as own:
            own.chat.completions.create(model=EXTRACTOR_MODEL, messages=_user("bg"))

    thread = threading.Thread(target=later)
    thread.start()
    arrived = server.wait_for_requests(1, "chat", model=EXTRACTOR_MODEL, timeout=5)
    thread.join()
    assert arrived[0].last_user_text == "bg"
    with pytest.raises(TimeoutError):
        server.wait_for_requests(2, model=EXTRACTOR_MODEL, timeout=0.05)


def test_unknown_paths_and_bad_bodies_get_error_json(server: OpenAIServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("POST", "/v1/nope", body=b"{}")
        response = connection.getresponse()
        assert response.status == 404
        assert "Unknown request URL" in json.loads(response.read())["error"]["message"]

        connection.request("POST", "/v1/chat/completions", body=b"not json")
        response = connection.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["error"]["type"] == "invalid_request_error"
        assert server.last_request().raw_body == b"not json"

        chunked = [b'{"model": "m", ', b'"messages": [{"role": "user", "content": "c"}]}']
        connection.request("POST", "/v1/chat/completions?x=1", body=iter(chunked))
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["choices"][0]["message"]["content"] == "echo: c"
        assert server.last_request().query == "x=1"
    finally:
        connection.close()


def test_lifecycle_start_stop_restart() -> None:
    server = OpenAIServer()
    assert not server.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    with server:
        assert server.running
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        with server.client() as client:
            assert client.models.list().data
            server.stop()
            assert not server.running
            with pytest.raises(openai.APIConnectionError):
                client.models.list()
        server.stop()  # idempotent
        server.start()
        with server.client() as client:
            assert client.models.list().data
    assert not server.running


def test_stop_interrupts_a_delayed_reply() -> None:
    server = OpenAIServer().start()
    server.enqueue(Reply(delay=30))
    failures: list[BaseException] = []

    def call() -> None:
        with server.client(timeout=10) as client:
            try:
                client.chat.completions.create(model=CHAT_MODEL, messages=_user("x"))
            except openai.APIError as error:
                failures.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    server.wait_for_requests(1)
    started = time.perf_counter()
    server.stop()
    thread.join(timeout=10)
    assert time.perf_counter() - started < 5
    assert len(failures) == 1 and isinstance(failures[0], openai.APIConnectionError)


# -- the schema example used by default replies ------------------------------------------------


def test_example_for_schema_follows_refs_enums_unions_and_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {
            "facts": {"type": "array", "items": {"$ref": "#/$defs/Fact"}},
            "mood": {"enum": ["happy", "sad"]},
            "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
            "count": {"type": "integer", "minimum": 2},
            "ok": {"type": "boolean"},
            "kind": {"const": "summary"},
        },
        "$defs": {
            "Fact": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "score": {"type": ["number", "null"]}},
            }
        },
    }
    assert example_for_schema(schema, "T") == {
        "facts": [{"text": "T", "score": 0.0}],
        "mood": "happy",
        "note": "T",
        "count": 2,
        "ok": False,
        "kind": "summary",
    }


def test_example_for_schema_stops_on_recursive_schemas() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }
    value = example_for_schema(schema, "T")
    depth = 0
    while value.get("children"):
        value = value["children"][0]
        depth += 1
    assert 0 < depth < 10


@pytest.mark.parametrize(("path", "endpoint"), [
    ("/v1/chat/completions", "chat"),
    ("/openai/deployments/gpt-4o-mini/chat/completions", "chat"),
    ("/openai/deployments/text-embedding-3-small/embeddings", "embeddings"),
    ("/openai/responses", "responses"),
    ("/openai/deployments/x/responses", "responses"),
    ("/openai/deployments/x/images/generations", None),
    ("/openai/deployments//chat/completions", None),
    ("/v2/chat/completions", None),
])
def test_azure_routes_name_the_same_endpoints(path: str, endpoint: str | None) -> None:
    from memori.testing.openai_records import RecordedRequest

    request = RecordedRequest("POST", path, "", {}, {}, b"{}", 0.0)
    assert request.endpoint == endpoint
