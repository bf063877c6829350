"""An OpenAI-compatible HTTP server on 127.0.0.1 that tests drive with the real openai client.

It serves chat completions, responses, embeddings and models (JSON and SSE), records every
request, and answers with scripted replies or a deterministic default. Responses it made can be
retrieved again, streamed too (``GET /v1/responses/{id}?stream=true``, which
``responses.stream(response_id=...)`` uses to resume a stream). Standard library only.

    with OpenAIServer() as server:
        client = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        server.enqueue("Hi!", model="chat-model")
        client.chat.completions.create(model="chat-model", messages=[...])
        assert server.last_request().last_user_text == ...
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from memori.testing.openai_chat import chat_completion, chat_completion_events
from memori.testing.openai_defaults import default_text
from memori.testing.openai_embeddings import embeddings_body
from memori.testing.openai_http import Answer, LoopbackHTTPServer
from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_responses import response_events, response_object
from memori.testing.openai_script import (
    Endpoint,
    Reply,
    ReplyBook,
    Responder,
)

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI
    from typing_extensions import Self  # typing.Self from Python 3.11

__all__ = ["DEFAULT_MODELS", "OpenAIServer"]

DEFAULT_MODELS: tuple[str, ...] = ("gpt-4o-mini", "gpt-4.1-mini", "text-embedding-3-small")
_KEPT_RESPONSES = 1000

_Builder = Callable[[RecordedRequest, Reply, int, int], Any]
_BUILDERS: dict[Endpoint, tuple[_Builder, _Builder]] = {
    Endpoint.CHAT: (chat_completion, chat_completion_events),
    Endpoint.RESPONSES: (response_object, response_events),
}


class OpenAIServer:
    """A scriptable, recording OpenAI API double on an ephemeral loopback port.

    Start it with `start()` or as a context manager; point a client at `base_url`.
    Replies are chosen per request: a queued reply for (endpoint, model), then one for
    (endpoint, any model), then a responder, then the deterministic default.
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        models: Iterable[str] = DEFAULT_MODELS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.embedding_dim = embedding_dim
        self.models = tuple(models)
        self._address = (host, port)
        self._book = ReplyBook()
        self._records: list[RecordedRequest] = []
        self._recorded = threading.Condition()
        self._serials = itertools.count(1)
        self._made: OrderedDict[str, tuple[RecordedRequest, Reply, int, int]] = OrderedDict()
        self._http: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve from a daemon thread; returns self."""
        if self._http is not None:
            return self
        http = LoopbackHTTPServer(self._address, self._dispatch)
        self._thread = threading.Thread(
            target=http.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"openai-test-server:{http.server_address[1]}",
        )
        self._http = http
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and free the port (safe to call twice)."""
        http, thread = self._http, self._thread
        if http is None:
            return
        self._http = self._thread = None
        http.stopping.set()
        http.shutdown()
        http.cut_connections()
        http.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._http is not None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._require_http().server_address[1])

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:PORT`."""
        host = self._require_http().server_address[0]
        return f"http://{host!s}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give an OpenAI client: `http://127.0.0.1:PORT/v1`."""
        return f"{self.url}/v1"

    def client(self, **kwargs: Any) -> OpenAI:
        """A real `openai.OpenAI` pointed here (no retries unless asked, dummy key)."""
        from openai import OpenAI

        return OpenAI(**self._client_kwargs(kwargs))

    def async_client(self, **kwargs: Any) -> AsyncOpenAI:
        """A real `openai.AsyncOpenAI` pointed here (no retries unless asked, dummy key)."""
        from openai import AsyncOpenAI

        return AsyncOpenAI(**self._client_kwargs(kwargs))

    def _client_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key": "sk-memori-test", "max_retries": 0, **kwargs}

    def _require_http(self) -> LoopbackHTTPServer:
        if self._http is None:
            raise RuntimeError("the OpenAI test server is not running: call start() first")
        return self._http

    # -- scripting -------------------------------------------------------------------------

    def enqueue(
        self,
        *replies: Reply | str,
        model: str | None = None,
        endpoint: Endpoint | str | None = None,
    ) -> None:
        """Queue replies, served in order. `model` limits them to requests for that model;
        `endpoint` to `chat`, `responses` or `embeddings` (default: chat and responses)."""
        self._book.enqueue(replies, model=model, endpoint=_endpoint(endpoint))

    def set_responder(
        self,
        responder: Responder | None,
        *,
        model: str | None = None,
        endpoint: Endpoint | str | None = None,
    ) -> None:
        """Install a callable `(RecordedRequest) -> Reply | str | None` consulted when the
        queue is empty (None falls back to the default); pass None to remove it."""
        self._book.set_responder(responder, model=model, endpoint=_endpoint(endpoint))

    def pending(self, model: str | None = None) -> int:
        """How many queued replies have not been served yet."""
        return self._book.pending(model)

    def clear(self) -> None:
        """Forget recorded requests, queued replies and responders."""
        self._book.clear()
        self.clear_requests()

    def clear_requests(self) -> None:
        """Forget recorded requests only."""
        with self._recorded:
            self._records.clear()

    # -- recorded requests -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._recorded:
            return list(self._records)

    def requests_for(
        self, endpoint: Endpoint | str | None = None, *, model: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests to one endpoint and/or for one model."""
        wanted = None if endpoint is None else Endpoint(endpoint).value
        return [
            request
            for request in self.requests
            if (wanted is None or request.endpoint == wanted)
            and (model is None or request.model == model)
        ]

    def chat_requests(self, *, model: str | None = None) -> list[RecordedRequest]:
        """Recorded `POST /v1/chat/completions` requests."""
        return self.requests_for(Endpoint.CHAT, model=model)

    def responses_requests(self, *, model: str | None = None) -> list[RecordedRequest]:
        """Recorded `POST /v1/responses` requests."""
        return self.requests_for(Endpoint.RESPONSES, model=model)

    def embedding_requests(self, *, model: str | None = None) -> list[RecordedRequest]:
        """Recorded `POST /v1/embeddings` requests."""
        return self.requests_for(Endpoint.EMBEDDINGS, model=model)

    def last_request(
        self, endpoint: Endpoint | str | None = None, *, model: str | None = None
    ) -> RecordedRequest:
        """The most recent matching request; LookupError when there is none."""
        matching = self.requests_for(endpoint, model=model)
        if not matching:
            raise LookupError(f"no request recorded for endpoint={endpoint!r} model={model!r}")
        return matching[-1]

    def wait_for_requests(
        self,
        count: int,
        endpoint: Endpoint | str | None = None,
        *,
        model: str | None = None,
        timeout: float = 5.0,
    ) -> list[RecordedRequest]:
        """Block until at least `count` matching requests arrived (e.g. from a background
        worker); returns them. TimeoutError if they do not arrive within `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while True:
                matching = self.requests_for(endpoint, model=model)
                remaining = deadline - time.monotonic()
                if len(matching) >= count:
                    return matching
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(matching)} of {count} requests arrived in {timeout}s "
                        f"(endpoint={endpoint!r}, model={model!r})"
                    )
                self._recorded.wait(remaining)

    # -- dispatch (runs on handler threads) ------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._recorded:
            self._records.append(request)
            self._recorded.notify_all()

    def _dispatch(self, request: RecordedRequest) -> Answer:
        self._record(request)
        serial = next(self._serials)
        headers = {"x-request-id": f"req_memori{serial}", "openai-processing-ms": "0"}
        if request.method == "GET":
            return _with_headers(self._get(request.path, request.query), headers)
        endpoint_name = request.endpoint
        if request.method != "POST" or endpoint_name is None:
            return _error(404, f"Unknown request URL: {request.method} {request.path}", headers)
        if not isinstance(request.body, dict):
            return _error(400, "The request body must be a JSON object.", headers)
        endpoint = Endpoint(endpoint_name)
        reply = self._book.next_reply(endpoint, request) or Reply()
        headers.update(reply.headers)
        if reply.is_error:
            return Answer(reply.status, reply.error_body(), None, headers, reply.delay)
        if endpoint is Endpoint.EMBEDDINGS:
            try:
                body = embeddings_body(request, self.embedding_dim)
            except ValueError as error:
                return _error(400, str(error), headers)
            return Answer(200, body, None, headers, reply.delay)
        if reply.text is None and not reply.tool_calls:
            reply = dataclasses.replace(reply, text=default_text(request))
        whole, streamed = _BUILDERS[endpoint]
        created = int(time.time())
        if endpoint is Endpoint.RESPONSES:
            self._keep(f"resp_memori{serial}", (request, reply, serial, created))
        if request.stream:
            events = streamed(request, reply, serial, created)
            return Answer(200, None, events, headers, reply.delay, reply.chunk_delay)
        return Answer(200, whole(request, reply, serial, created), None, headers, reply.delay)

    def _keep(self, response_id: str, made: tuple[RecordedRequest, Reply, int, int]) -> None:
        """Remember a response made, for retrieval (the latest ``_KEPT_RESPONSES``)."""
        with self._recorded:
            self._made[response_id] = made
            while len(self._made) > _KEPT_RESPONSES:
                self._made.popitem(last=False)

    def _retrieve(self, response_id: str, query: str) -> Answer:
        with self._recorded:
            made = self._made.get(response_id)
        if made is None:
            return _error(404, f"No response found with id '{response_id}'.")
        request, reply, serial, created = made
        if parse_qs(query).get("stream") == ["true"]:
            events = response_events(request, reply, serial, created)
            return Answer(200, None, events, {}, 0.0, reply.chunk_delay)
        return Answer(200, response_object(request, reply, serial, created))

    def _get(self, path: str, query: str = "") -> Answer:
        if path.startswith("/v1/responses/"):
            return self._retrieve(path.removeprefix("/v1/responses/"), query)
        if path == "/v1/models":
            return Answer(200, {"object": "list", "data": [_model(m) for m in self.models]})
        if path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name in self.models:
                return Answer(200, _model(name))
            return _error(404, f"The model '{name}' does not exist", code="model_not_found")
        return _error(404, f"Unknown request URL: GET {path}")


def _endpoint(endpoint: Endpoint | str | None) -> Endpoint | None:
    return None if endpoint is None else Endpoint(endpoint)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "memori-test"}


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, *, code: str | None = None
) -> Answer:
    body = Reply.error(status, message, code=code).error_body()
    return Answer(status, body, None, headers or {})


def _with_headers(answer: Answer, headers: dict[str, str]) -> Answer:
    return dataclasses.replace(answer, headers={**headers, **answer.headers})
