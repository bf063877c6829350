"""The contracts every layer codes against (typing.Protocol, no implementation)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, runtime_checkable

from memori.core.capabilities import Capability
from memori.core.conforms import conforms
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn

Record = dict[str, Any]
"""One exported item: ``{"type": "turn" | "memory", ...fields}`` (JSON-serialisable)."""


@runtime_checkable
class StorePrimitives(Protocol):
    """The required contract: the storage primitives a backend implements.

    Subclass :class:`memori.core.store_base.StoreBase` and implement these; it
    derives the rest of :class:`MemoryStore` from them. Every read and write is
    scoped. Rules every implementation honours (the conformance suite checks them):

    - Every method that takes a ``Scope`` touches nothing outside
      ``scope.entity_id``; ids are compared whole and case-sensitively.
    - Memories: visible under ``Scope(E, P)`` when they belong to E and either
      have ``process_id`` P, have no process_id, or are ``shared``. A scope with
      no process_id sees only memories with no process_id or shared ones.
      Superseded memories are left out unless ``include_superseded``.
    - Turns: read with exact ``entity_id`` and ``process_id`` (None matches only
      None), and ``session_id`` when the scope names one; oldest first.
    - Search results are ordered by ``score`` descending; scores lie in [0, 1].
      Text search matches any of the query's words (case-insensitive, ranked by
      relevance, never a syntax error whatever the query holds; a query with no
      words returns nothing). Vector search scores ``(1 + cosine) / 2``. With
      both ``text`` and ``vector`` the backend fuses the two rankings. The items
      of search hits may leave ``embedding`` out (None): read an item to get it.
    - Vectors must have ``vector_dim`` components (``DimensionMismatchError``
      otherwise); a store opened with ``vector_dim=None`` stores no vectors.
    - A memory's ``pinned`` and ``expires_at`` are stored and returned like its other
      fields (search hits included); the store never reads the clock: an expired
      memory is returned until ``sweep_expired`` removes it (memori filters it out).
    - Methods whose name starts with ``admin_`` or ``outbox_``, and ``scan()``
      without an entity, cross entities on purpose and are never called on a
      user's behalf.
    """

    name: str
    vector_dim: int | None

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    def setup(self) -> None:
        """Create or check the schema; idempotent and safe on a shared, non-empty database."""

    def close(self) -> None: ...

    # turns
    def append_turns(self, turns: Sequence[Turn]) -> None:
        """Insert turns, keyed by ``(entity_id, id)`` (a stored id is kept or replaced)."""
    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        """Turns of the scope, oldest first; with ``limit``, the most recent ``limit``."""
    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        """Delete the given turns (or all turns of the scope) inside the scope."""
    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]: ...

    # memories
    def put_memories(self, memories: Sequence[Memory]) -> None:
        """Insert or replace memories, keyed by ``(entity_id, id)``."""
    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """The memory if the scope sees it (superseded ones too), else None."""
    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        """Visible memories, oldest first."""
    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        """Change fields (see ``MEMORY_PATCH_FIELDS``) of a visible memory; False if none."""
    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int: ...
    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]: ...

    # whole entity
    def forget(self, entity_id: str) -> int:
        """Delete everything stored for the entity (indexes and outbox included);
        returns the number of turns and memories removed."""
    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        """Every turn, then every memory, of the entity (all personas and sessions,
        superseded too), each oldest first; with no entity, the same across every
        entity (an admin read: ``export``, ``admin_export_all``, ``admin_stats``)."""

    # augmentation outbox (crosses entities: the background worker's view)
    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        """Turns waiting for extraction, oldest first, across entities."""
    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        """Move turns of the entity to ``state``; PENDING (re)queues them, so a parked turn is
        retried with ``state=PENDING, attempts=0``. ``error=None`` keeps the last error."""


@runtime_checkable
class MemoryStore(StorePrimitives, Protocol):
    """What memori calls on a store: the primitives plus the methods ``StoreBase``
    derives from them (a backend overrides those only to be faster)."""

    def count_turns(self, scope: Scope) -> int: ...
    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int: ...
    def export(self, entity_id: str) -> Iterator[Record]:
        """``scan(entity_id)`` as records (see ``memori.core.records``)."""
    def import_records(self, records: Iterable[Record]) -> int:
        """Insert or replace the records' turns and memories; ``ValueError`` if malformed."""
    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        """Parked turns (reason in ``extract_error``), oldest first, across entities."""

    # admin (cross entities, by name)
    def admin_stats(self) -> dict[str, Any]:
        """At least ``backend``, ``entities``, ``turns``, ``memories``,
        ``outbox_pending`` and ``outbox_parked``."""
    def admin_export_all(self) -> Iterator[Record]: ...


# Optional abilities memori probes for (a store, retriever or embedder may lack them).

@runtime_checkable
class SupportsRecentTurns(Protocol):
    """A store that reads the latest turns faster than ``list_turns``: the latest
    ``limit`` turns of the scope, oldest first, vectors left out (see :func:`recent_turns`)."""

    def recent_turns(self, scope: Scope, *, limit: int) -> list[Turn]: ...


@runtime_checkable
class SupportsSharedReads(Protocol):
    """A store whose reads in one thread, inside ``shared_reads()``, share what they can:
    one connection, and what a read learnt of the store's state (an entity's version,
    say), so the LLM path's reads of one call (history, pinned memories, the searches,
    context turns) do not each pay to set up. Reads inside see the store as of the
    block's first look at each entity, as a call that started then would; a write the
    thread makes inside is seen by its later reads. Entering and leaving raise nothing
    for the store's trouble: the reads inside do, each where it fails. Re-entrant."""

    def shared_reads(self) -> AbstractContextManager[None]: ...


def shared_reads(store: object) -> AbstractContextManager[None]:
    """``store.shared_reads()`` when the store offers it, else a block that does nothing."""
    if conforms(store, SupportsSharedReads):
        return store.shared_reads()
    return nullcontext()


@runtime_checkable
class SupportsLocalReads(Protocol):
    """A store whose reads never wait on a server (a local file, the process's memory):
    the LLM path reads it in the caller's thread, as it did before its reads were
    bounded, instead of on a reader thread it waits for at most ``read_timeout``
    seconds (``memori.llm.deadline``; the hop costs 0.1-0.3 ms a call). A store that
    reads over a network must not claim it: a hung server would then hold every call.
    ``reads_locally()`` answers without touching the store."""

    def reads_locally(self) -> bool: ...


def reads_locally(store: object) -> bool:
    """Whether ``store`` says its reads never wait on a server (``SupportsLocalReads``)."""
    return isinstance(store, SupportsLocalReads) and store.reads_locally() is True


@runtime_checkable
class SupportsRawCount(Protocol):
    """Conformance only: rows/documents/points of the entity in every table or
    collection, bypassing the read paths, so the suite's forget check sees rows no
    read shows. Without it the suite counts through ``scan`` (a weaker check)."""

    def raw_count(self, entity_id: str) -> int: ...


@runtime_checkable
class SupportsAsyncOutbox(Protocol):
    """Native async outbox calls, awaited by the async worker (else a thread runs the
    sync ones)."""

    async def aoutbox_pending(self, limit: int = 100) -> list[Turn]: ...
    async def aoutbox_parked(self, limit: int = 100) -> list[Turn]: ...
    async def aoutbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None: ...


@runtime_checkable
class SupportsAdminVacuum(Protocol):
    """A store that can reclaim the space of deleted rows now (``memori purge``)."""

    def admin_vacuum(self, *, full: bool = False) -> Any: ...


class AsyncMemoryStore(Protocol):
    """The async twins of :class:`MemoryStore`, named with an ``a`` prefix."""

    async def asetup(self) -> None: ...
    async def aclose(self) -> None: ...
    async def aappend_turns(self, turns: Sequence[Turn]) -> None: ...
    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]: ...
    async def acount_turns(self, scope: Scope) -> int: ...
    async def adelete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int: ...
    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]: ...
    async def aput_memories(self, memories: Sequence[Memory]) -> None: ...
    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None: ...
    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]: ...
    async def acount_memories(self, scope: Scope, *, include_superseded: bool = False) -> int: ...
    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool: ...
    async def adelete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int: ...
    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]: ...
    async def aforget(self, entity_id: str) -> int: ...
    # the outbox, for the task worker of async apps (which falls back to a thread
    # running the sync twins when a store lacks these)
    async def aoutbox_pending(self, limit: int = 100) -> list[Turn]: ...
    async def aoutbox_parked(self, limit: int = 100) -> list[Turn]: ...
    async def aoutbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None: ...


def recent_turns(store: MemoryStore, scope: Scope, *, limit: int) -> list[Turn]:
    """The latest ``limit`` turns of ``scope``, oldest first: the store's optional
    ``recent_turns`` (vectors left out) when it has one, else ``list_turns``."""
    if conforms(store, SupportsRecentTurns):
        return store.recent_turns(scope, limit=limit)
    return store.list_turns(scope, limit=limit)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of a fixed dimension (unit length).

    ``name`` and ``dim`` are read, never set, by memori: a plain attribute or a
    property both do. An embedder may also declare ``gil_free = True`` when it
    spends its time waiting outside the GIL, as on a network call: the retriever then
    embeds the query while the text searches run (see ``memori.retrieval.overlap``).
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class SupportsAsyncEmbed(Protocol):
    """An embedder with a native async call (the retriever's ``aretrieve`` awaits it,
    else it embeds in a worker thread)."""

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class SupportsLoad(Protocol):
    """An embedder whose first use loads a model: ``load()`` does it now (the LLM path
    calls it in the background when a client is registered, so the first call finds the
    model loaded). Idempotent."""

    def load(self) -> None: ...


@runtime_checkable
class SupportsGilFree(Protocol):
    """An embedder that declares ``gil_free = True`` waits outside the GIL (a network
    call): the retriever embeds the query while the text searches run."""

    gil_free: bool


class PendingVector(Protocol):
    """A query embedding under way: ``result()`` waits for it."""

    def result(self) -> Sequence[float]: ...


@runtime_checkable
class SupportsEmbedBeside(Protocol):
    """An embedder that computes outside the GIL on a core of its own (a local model):
    ``embed_beside`` returns once the model runs on another thread, so the retriever
    runs its text searches (and the LLM path its history reads) meanwhile. When that
    thread is busy it embeds in the caller's thread, or with ``inline_if_busy=False``
    (an event loop's thread) returns None."""

    def embed_beside(self, text: str, *, inline_if_busy: bool = True
                     ) -> PendingVector | None: ...


@runtime_checkable
class Retriever(Protocol):
    """Ranks what a scope may see for a query, within a token budget."""

    def retrieve(
        self, store: MemoryStore, scope: Scope, query: str, *,
        limit: int = 10, token_budget: int | None = None,
        include_history: bool = False,
    ) -> list[Hit]: ...


@runtime_checkable
class SupportsMinRelevance(Protocol):
    """A retriever with a relevance floor: ``min_relevance`` (0 to 1) is its default, and
    ``retrieve`` takes ``min_relevance=`` to use another for one call (``Memori.recall``
    passes its own; the UI shows the default). A retriever without the attribute is
    never handed the argument."""

    min_relevance: float

    def retrieve(
        self, store: MemoryStore, scope: Scope, query: str, *,
        limit: int = 10, token_budget: int | None = None,
        include_history: bool = False, min_relevance: float | None = None,
    ) -> list[Hit]: ...


@runtime_checkable
class SupportsAsyncRetrieve(Protocol):
    """A retriever that searches on the event loop (awaited by the async LLM path when
    the store declares ``NATIVE_ASYNC``; else ``retrieve`` runs in a thread)."""

    async def aretrieve(
        self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
    ) -> list[Hit]: ...


@runtime_checkable
class SupportsStartQuery(Protocol):
    """A retriever that can begin a query's embedding before ``retrieve`` (the LLM path
    starts it before reading the session, then passes it as ``started=``)."""

    def start_query(self, store: MemoryStore, query: str, *, inline_if_busy: bool = True
                    ) -> PendingVector | None: ...

    def retrieve(
        self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
        started: PendingVector | None = None,
    ) -> list[Hit]: ...


@runtime_checkable
class Extractor(Protocol):
    """Turns recorded turns into candidate memories (not yet reconciled)."""

    name: str

    def extract(self, turns: Sequence[Turn]) -> list[Memory]: ...


@runtime_checkable
class AsyncExtractor(Protocol):
    """An extractor bound to an event loop (an async model client): ``aextract`` is
    awaited on the application's loop, so the pipeline runs it as a task there."""

    name: str

    async def aextract(self, turns: Sequence[Turn]) -> list[Memory]: ...


@runtime_checkable
class Redactor(Protocol):
    """Rewrites text before it is stored or embedded (secrets out, placeholders in).

    ``redact`` is pure and fast (it runs on every turn and memory): it returns the
    text unchanged, ideally the same object, when there is nothing to redact.
    """

    name: str

    def redact(self, text: str) -> str: ...
