"""The SQLite store: the whole ``MemoryStore`` protocol on one file (or in memory).

Open it with :func:`open_store` from a ``sqlite:///path`` URL, a SQLAlchemy
Engine or a sqlite3 DB-API connection.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Table, delete, func, insert, select, true, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from memori.backends.sql import migrate as migrations
from memori.backends.sql.filters import ids_in, memory_visible, turn_scope
from memori.backends.sql.rows import (
    MEMORY_COLUMNS,
    RowLike,
    memory_patch_to_values,
    memory_to_row,
    row_to_memory,
    row_to_turn,
    turn_to_row,
)
from memori.backends.sql.summaries import entity_counts_plan
from memori.backends.sql.tables import Tables, build_tables
from memori.backends.sqlite import connection as conns
from memori.backends.sqlite import erasure
from memori.backends.sqlite.accelerator import Accelerator
from memori.backends.sqlite.errors import translate_errors
from memori.backends.sqlite.fts import entity_expression, fts_table, segment_rows
from memori.backends.sqlite.fts_rank import EntityLengths, entity_text_candidates
from memori.backends.sqlite.search import (
    Found,
    Item,
    Ranked,
    ScopeFilter,
    text_candidates,
    vector_candidates_exact,
    vector_candidates_sqlite_vec,
)
from memori.backends.sqlite.targets import busy_timeout_ms, resolve_target
from memori.backends.sqlite.vectors import BlobCodec, as_float32
from memori.backends.sqlite.versions import Kind
from memori.core.capabilities import Capability
from memori.core.errors import ConfigurationError, StoreUnavailableError
from memori.core.expiry import check_moment, delete_by_keys
from memori.core.ids import check_id
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.plan_store import drive
from memori.core.protocols import Record
from memori.core.records import from_record
from memori.core.scores import rrf_fuse
from memori.core.store_base import StoreBase
from memori.core.store_rules import check_store_limit, check_vector
from memori.core.summaries import EntityCounts

CHUNK = 400
"""Ids per ``IN (...)`` list (well under SQLite's bound-parameter limit)."""
PAGE = 500
"""Rows per page when exporting (the connection is released between pages)."""
CANDIDATE_FACTOR = 4
"""Candidates fetched per list, as a multiple of ``limit``, before fusing text and vectors."""
CACHE_BYTES = 512 * 1024 * 1024
CACHE_MAX_ITEMS = 200_000
"""Default vector cache bound: the vectors that fit in CACHE_BYTES, at most this many."""
ITEM_CACHE_ITEMS = 100_000
"""Default item cache bound (turns and memories held whole, without their vectors)."""
ITEM_CACHE_AFTER = 4
"""Default searches of an entity's turns or memories served in SQL before its items
are cached (one intercepted call makes 2-4: a one-off call never builds a set)."""

T = TypeVar("T")
log = logging.getLogger(__name__)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SQLiteStore(StoreBase):
    """``MemoryStore`` on SQLite: FTS5 text search, float32 vectors, WAL, Alembic schema."""

    name = "sqlite"

    def __init__(
        self,
        engine: Engine,
        *,
        url_hint: str,
        owns_engine: bool,
        vector_dim: int | None = None,
        vector_search: str = "auto",
        migrate: bool = False,
        connection_setup: conns.ConnectionSetup,
        file_backed: bool = True,
        vector_cache_items: int | None = None,
        item_cache_items: int = ITEM_CACHE_ITEMS,
        item_cache_after: int = ITEM_CACHE_AFTER,
        vacuum_on_forget: bool = True,
    ) -> None:
        self.engine = engine
        self.vector_dim = vector_dim
        self.vector_search = vector_search
        self._url_hint = url_hint
        self._owns_engine = owns_engine
        self._migrate = migrate
        self._setup_hook = connection_setup
        self._file_backed = file_backed
        self._vacuum_on_forget = vacuum_on_forget
        self._codec = BlobCodec(vector_dim)
        self._tables: Tables = build_tables()
        self._cache = Accelerator(
            read=self._read,
            tables={"turns": self._tables.turns, "memories": self._tables.memories},
            to_model={"turns": self._hit_turn, "memories": self._hit_memory},
            dim=vector_dim, vector_items=cache_bound(vector_dim, vector_cache_items),
            item_items=item_cache_items, item_admit_after=item_cache_after,
        )
        self._lengths = EntityLengths()  # for text searches the cache leaves to SQL
        self._use_vec = False
        self._ready = False
        self._closed = False
        self._setup_lock = threading.Lock()
        self._held = threading.local()  # this thread's shared reads (``shared_reads``)
        self._shares_connection = conns.uses_shared_connection(engine)
        self._guard: AbstractContextManager[Any] = (
            threading.RLock() if self._shares_connection else contextlib.nullcontext())
        connection_setup.attach(engine)

    def __repr__(self) -> str:
        return f"SQLiteStore({self._url_hint!r}, vector_dim={self.vector_dim})"

    # lifecycle

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.TEXT_SEARCH, Capability.NATIVE_TEXT_INDEX, Capability.ASYNC,
                Capability.MIGRATIONS}
        if self.vector_dim is not None:
            caps.add(Capability.VECTOR_SEARCH)
        if self._file_backed:
            caps.add(Capability.MULTI_PROCESS)
        return frozenset(caps)

    @property
    def vector_path(self) -> str | None:
        """How vectors are searched: ``"sqlite-vec"``, ``"exact"``, or None without vectors."""
        if self.vector_dim is None:
            return None
        self._ensure_ready()
        return "sqlite-vec" if self._use_vec else "exact"

    def setup(self) -> None:
        """Bring the schema to head (fresh file) or check it (existing); pick the vector path."""
        if self._closed:
            raise StoreUnavailableError("the store is closed")
        with self._setup_lock, self._guard, translate_errors():
            with conns.read_transaction(self.engine) as conn:
                current = migrations.current_revision(conn)
                vec_here = conns.has_sqlite_vec(conns.dbapi_of(conn))
            if current != migrations.head():
                with conns.write_transaction(self.engine) as conn:
                    migrations.ensure_schema(
                        conn, url_hint=self._url_hint, migrate=self._migrate
                    )
            if self.vector_search == "sqlite-vec" and self.vector_dim is not None and not vec_here:
                raise ConfigurationError(
                    "vector_search='sqlite-vec' but sqlite-vec is not loaded on this connection "
                    "(its sqlite3 module cannot load extensions); use vector_search='auto'"
                )
            self._use_vec = (
                vec_here and self.vector_search != "exact" and self.vector_dim is not None
            )
            self._ready = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache.close()
        if self._ready:
            try:  # the WAL may still hold old page images (e.g. a reader blocked forget's)
                self._truncate_wal()
            except Exception as e:
                log.debug("memori: truncating the SQLite WAL at close failed (%s)",
                          type(e).__name__)
        self._setup_hook.detach(self.engine)
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_ready(self) -> None:
        if self._closed:
            raise StoreUnavailableError("the store is closed")
        if not self._ready:
            self.setup()

    def reads_locally(self) -> bool:
        """A file, no server to wait on (``SupportsLocalReads``): the LLM path reads in
        the caller's thread."""
        return True

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Reads in this thread inside the block share one connection (opened by the
        first of them, closed at the end), and each entity's version is read once
        (``SupportsSharedReads``): the LLM path's reads of one call. A write of this
        thread inside drops the versions learnt. Re-entrant. On one connection shared by
        every thread (an in-memory database) each read still takes it on its own: held
        for the block, it would stop the other threads' writes that long."""
        held = self._held
        if getattr(held, "reads", None) is not None or self._shares_connection:
            yield
            return
        with self._cache.sharing(), contextlib.ExitStack() as reads:
            held.reads, held.conn = reads, None
            try:
                yield
            finally:
                held.reads = held.conn = None
                try:
                    reads.close()
                except Exception as e:  # a read-only connection: nothing to lose
                    log.warning("memori: closing a shared read connection failed (%s)",
                                type(e).__name__)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        held = self._held
        reads: contextlib.ExitStack | None = getattr(held, "reads", None)
        if reads is None:
            self._ensure_ready()
            with self._guard, translate_errors(), conns.read_transaction(self.engine) as conn:
                yield conn
            return
        if held.conn is None:
            self._ensure_ready()
            with translate_errors():
                held.conn = reads.enter_context(conns.read_transaction(self.engine))
        with translate_errors():
            yield held.conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._ensure_ready()
        try:
            with self._guard, translate_errors(), conns.write_transaction(self.engine) as conn:
                yield conn
        finally:
            self._cache.forget_shared()

    @property
    def _turns(self) -> Table:
        return self._tables.turns

    @property
    def _memories(self) -> Table:
        return self._tables.memories

    @property
    def _outbox(self) -> Table:
        return self._tables.outbox

    # turns

    def append_turns(self, turns: Sequence[Turn]) -> None:
        """Insert new turns (ids already stored are skipped) and queue the pending ones."""
        unique: dict[tuple[str, str], Turn] = {}
        for t in turns:
            if not isinstance(t, Turn):
                raise ValueError(f"append_turns takes Turn objects, got {type(t).__name__}")
            unique.setdefault((t.entity_id, t.id), t)
        if not unique:
            return
        rows = {key: turn_to_row(t, self._codec.encode) for key, t in unique.items()}
        with self._write() as conn:
            self._insert_new_turns(conn, rows)
        self._cache.changed("turns", {e for e, _ in unique})

    def _insert_new_turns(
        self, conn: Connection, rows: Mapping[tuple[str, str], dict[str, Any]]
    ) -> int:
        keys = list(rows)
        existing: set[tuple[str, str]] = set()
        pk = tuple_(self._turns.c.entity_id, self._turns.c.id)
        for part in _chunks(keys):
            found = conn.execute(
                select(self._turns.c.entity_id, self._turns.c.id).where(pk.in_(list(part)))
            )
            existing.update((e, i) for e, i in found)
        new = [rows[k] for k in keys if k not in existing]
        if not new:
            return 0
        conn.execute(insert(self._turns), new)
        segment_rows(conn, self._turns.name, new)
        pending = [
            {"entity_id": r["entity_id"], "turn_id": r["id"], "created_at": r["created_at"]}
            for r in new if r["extract_state"] == ExtractState.PENDING.value
        ]
        if pending:
            conn.execute(sqlite_insert(self._outbox).on_conflict_do_nothing(), pending)
        return len(new)

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return self._list_turns(scope, limit, self._to_turn)

    def _list_turns(
        self, scope: Scope, limit: int | None, to_model: Callable[[RowLike], Turn],
    ) -> list[Turn]:
        check_store_limit(limit)
        t = self._turns
        stmt = select(t).where(turn_scope(t, scope))
        if limit is None:
            stmt = stmt.order_by(t.c.created_at, t.c.id)
        else:
            stmt = stmt.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        with self._read() as conn:
            turns = [to_model(r) for r in conn.execute(stmt).mappings()]
        return turns if limit is None else turns[::-1]

    def count_turns(self, scope: Scope) -> int:
        with self._read() as conn:
            stmt = select(func.count()).select_from(self._turns).where(
                turn_scope(self._turns, scope)
            )
            return int(conn.execute(stmt).scalar_one())

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        t, o = self._turns, self._outbox
        base = turn_scope(t, scope)
        groups: list[Any] = (
            [None] if turn_ids is None else [ids_in(t.c.id, part) for part in _chunks(turn_ids)]
        )
        deleted = 0
        with self._write() as conn:
            for group in groups:
                where = base if group is None else base & group
                conn.execute(delete(o).where(
                    o.c.entity_id == scope.entity_id, o.c.turn_id.in_(select(t.c.id).where(where))
                ))
                deleted += conn.execute(delete(t).where(where)).rowcount
        self._cache.changed("turns", {scope.entity_id})
        return deleted

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        def scope_filter(entity: Any = None) -> Any:
            return turn_scope(self._turns, scope, entity=entity)

        return self._search("turns", scope_filter, scope, False, text, vector, limit)

    # memories

    def put_memories(self, memories: Sequence[Memory]) -> None:
        """Insert or replace memories, keyed by ``(entity_id, id)``."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for m in memories:
            if not isinstance(m, Memory):
                raise ValueError(f"put_memories takes Memory objects, got {type(m).__name__}")
            rows[(m.entity_id, m.id)] = memory_to_row(m, self._codec.encode)
        if not rows:
            return
        with self._write() as conn:
            self._upsert_memories(conn, list(rows.values()))
        self._cache.changed("memories", {e for e, _ in rows})

    def _upsert_memories(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        stmt = sqlite_insert(self._memories)
        changed = {c: stmt.excluded[c] for c in MEMORY_COLUMNS if c not in ("entity_id", "id")}
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["entity_id", "id"], set_=changed), rows
        )
        segment_rows(conn, self._memories.name, rows)

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        m = self._memories
        where = memory_visible(m, scope) & ids_in(m.c.id, [memory_id])
        with self._read() as conn:
            row = conn.execute(select(m).where(where)).mappings().first()
        return None if row is None else row_to_memory(row, self._codec.decode)

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        check_store_limit(limit)
        check_store_limit(offset, "offset")
        m = self._memories
        stmt = (
            select(m)
            .where(memory_visible(m, scope, include_superseded=include_superseded))
            .order_by(m.c.created_at, m.c.id)
            .limit(limit)
            .offset(offset or None)
        )
        with self._read() as conn:
            return [row_to_memory(r, self._codec.decode) for r in conn.execute(stmt).mappings()]

    def sweep_expired(self, at: float) -> int:
        """Expired memories of every entity found by one query, deleted through
        ``delete_memories`` (its text index, vectors and caches with them)."""
        at = check_moment(at)
        m = self._memories
        stmt = select(m.c.entity_id, m.c.process_id, m.c.id).where(m.c.expires_at <= at)
        with self._read() as conn:
            keys = [(r[0], r[1], r[2]) for r in conn.execute(stmt)]
        return delete_by_keys(self, keys)

    def list_pinned(self, scope: Scope) -> list[Memory]:
        """The scope's current pinned memories, oldest first (``SupportsListPinned``):
        served from memory, without their vectors, when the entity's items are cached
        (the LLM path reads them on every call)."""
        m = self._memories
        with self._read() as conn:
            cached = self._cache.pinned_memories(conn, scope)
            if cached is not None:
                return cached
            stmt = (select(m).where(memory_visible(m, scope, include_superseded=False)
                           & (m.c.pinned == true()))
                    .order_by(m.c.created_at, m.c.id))
            return [row_to_memory(r, self._codec.decode) for r in conn.execute(stmt).mappings()]

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        m = self._memories
        where = memory_visible(m, scope, include_superseded=include_superseded)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(m).where(where)).scalar_one())

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        m = self._memories
        values = memory_patch_to_values(changes, self._codec.encode)
        where = memory_visible(m, scope) & ids_in(m.c.id, [memory_id])
        with self._write() as conn:
            if not values:
                return conn.execute(select(func.count()).where(where)).scalar_one() > 0
            changed = bool(conn.execute(update(m).where(where).values(**values)).rowcount > 0)
            if changed and "content" in values:
                segment_rows(conn, m.name, [
                    {"entity_id": scope.entity_id, "id": memory_id, "content": values["content"]}])
        self._cache.changed("memories", {scope.entity_id})
        return changed

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        m = self._memories
        deleted = 0
        with self._write() as conn:
            for part in _chunks(list(memory_ids)):
                where = memory_visible(m, scope) & ids_in(m.c.id, part)
                deleted += conn.execute(delete(m).where(where)).rowcount
        self._cache.changed("memories", {scope.entity_id})
        return deleted

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        def scope_filter(entity: Any = None) -> Any:
            return memory_visible(
                self._memories, scope, include_superseded=include_superseded, entity=entity
            )

        return self._search(
            "memories", scope_filter, scope, include_superseded, text, vector, limit
        )

    # search

    def _to_turn(self, row: RowLike) -> Turn:
        return row_to_turn(row, self._codec.decode)

    def _to_memory(self, row: RowLike) -> Memory:
        return row_to_memory(row, self._codec.decode)

    @staticmethod
    def _hit_turn(row: RowLike) -> Turn:
        """A turn as search returns it: without its vector."""
        return row_to_turn(row, _no_vector)

    @staticmethod
    def _hit_memory(row: RowLike) -> Memory:
        """A memory as search returns it: without its vector."""
        return row_to_memory(row, _no_vector)

    def _search(
        self, kind: Kind, scope_filter: ScopeFilter, scope: Scope, include_superseded: bool,
        text: str | None, vector: Sequence[float] | None, limit: int,
    ) -> list[Hit]:
        """The accelerator's answers, and SQL's for the signals it leaves out."""
        check_store_limit(limit)
        if text is not None and not isinstance(text, str):
            raise ValueError("text must be a str")
        query = None if vector is None else as_float32(check_vector(vector, self.vector_dim))
        if limit == 0 or (text is None and query is None):
            return []
        both = text is not None and query is not None
        pool = max(limit * CANDIDATE_FACTOR, 40) if both else limit
        table = self._turns if kind == "turns" else self._memories
        to_model = self._hit_turn if kind == "turns" else self._hit_memory
        with self._read() as conn:
            served = self._cache.search(conn, kind, scope, include_superseded=include_superseded,
                                        text=text, query=query, k=pool)
            lists: dict[str, Found] = {
                signal: [(item.id, item, score) for item, score in ranked]
                for signal, ranked in served.items()}
            if text is not None and "text" not in lists:
                found = self._text_sql(conn, kind, table, scope_filter, scope.entity_id,
                                       text, pool)
                lists["text"] = [(i, to_model(row), score) for i, row, score in found]
            if query is not None and "vector" not in lists:
                lists["vector"] = self._vector_sql(conn, table, scope_filter(None), scope,
                                                   query, pool, to_model)
        if not both:
            ((signal, ranked),) = lists.items()
            return [Hit(item, score, {signal: score}) for _, item, score in ranked]
        fused = rrf_fuse(lists, limit=limit, tiebreak=lambda m: (m.created_at, m.id))
        return [Hit(f.item, f.score, f.signals) for f in fused]

    def _text_sql(
        self, conn: Connection, kind: Kind, table: Table, scope_filter: ScopeFilter,
        entity_id: str, text: str, limit: int,
    ) -> Ranked:
        """Ranked by the entity's own statistics (``fts_rank``), or by FTS5's ``bm25()``
        when too many of its rows match for that."""
        found = entity_text_candidates(conn, table, kind, scope_filter, entity_id, text,
                                       limit, self._lengths)
        return text_candidates(conn, table, scope_filter, entity_id, text, limit) \
            if found is None else found

    def _vector_sql(
        self, conn: Connection, table: Table, where: ColumnElement[bool], scope: Scope,
        query: npt.NDArray[np.float32], limit: int, to_model: Callable[[RowLike], Item],
    ) -> Found:
        if self._use_vec:
            ranked = vector_candidates_sqlite_vec(conn, table, where, query, limit)
        else:
            ranked = vector_candidates_exact(conn, table, where, scope.entity_id, query, limit)
        return [(i, to_model(row), score) for i, row, score in ranked]

    def recent_turns(self, scope: Scope, *, limit: int) -> list[Turn]:
        """The latest ``limit`` turns of the scope, oldest first, without their vectors
        (``list_turns`` for reading context: served from memory when cached)."""
        check_store_limit(limit)
        with self._read() as conn:
            turns = self._cache.latest_turns(conn, scope, limit)
        return self._list_turns(scope, limit, self._hit_turn) if turns is None else turns

    # whole entity

    def forget(self, entity_id: str) -> int:
        """Delete every turn, memory and outbox row of the entity (FTS rows go by trigger),
        and leave no copy behind: freed space is zeroed (``secure_delete``), the FTS
        index is merged without the deleted words, the file is rebuilt (``VACUUM``,
        unless ``vacuum_on_forget=False``), the WAL truncated (see ``erasure``), and
        the in-process sets of the entity are dropped."""
        check_id(entity_id)
        removed = 0
        with self._write() as conn:
            conn.execute(delete(self._outbox).where(self._outbox.c.entity_id == entity_id))
            for table in (self._turns, self._memories):
                stmt = delete(table).where(table.c.entity_id == entity_id)
                removed += conn.execute(stmt).rowcount
            self._cache.delete_log(conn, entity_id)  # after the deletes: their triggers log
            erasure.purge_text_index(conn)
        self._cache.forget(entity_id)
        self._lengths.forget(entity_id)
        if self._file_backed and self._vacuum_on_forget:
            with self._guard, translate_errors():
                erasure.vacuum(self.engine)
        self._truncate_wal()
        return removed

    def _truncate_wal(self) -> bool:
        if not self._file_backed:
            return True
        with self._guard, translate_errors():
            return erasure.truncate_wal(self.engine)

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        """Every turn then every memory of the entity (or of each entity), oldest first."""
        if entity_id is not None:
            check_id(entity_id)
        self._ensure_ready()
        return self._scan(entity_id)

    def _scan(self, entity_id: str | None) -> Iterator[Turn | Memory]:
        for entity in [entity_id] if entity_id is not None else self._entity_ids():
            yield from self._pages(self._turns, entity, self._to_turn)
            yield from self._pages(self._memories, entity, self._to_memory)

    def entity_counts(self) -> list[EntityCounts]:
        """Every entity's counts, counted in SQL (``SupportsEntityCounts``)."""
        with self._read() as conn:
            return drive(entity_counts_plan(self._turns, self._memories), conn.execute)

    def _entity_ids(self) -> list[str]:
        t, m = self._turns, self._memories
        with self._read() as conn:
            stmt = select(t.c.entity_id).union(select(m.c.entity_id)).order_by("entity_id")
            return [str(e) for (e,) in conn.execute(stmt)]

    def _pages(
        self, table: Table, entity_id: str, to_model: Callable[[RowLike], T]
    ) -> Iterator[T]:
        """Rows of the entity page by page on (created_at, id); no connection is held."""
        after: tuple[float, str] | None = None
        key = tuple_(table.c.created_at, table.c.id)
        while True:
            stmt = select(table).where(table.c.entity_id == entity_id)
            if after is not None:
                stmt = stmt.where(key > tuple_(*after))
            stmt = stmt.order_by(table.c.created_at, table.c.id).limit(PAGE)
            with self._read() as conn:
                rows = list(conn.execute(stmt).mappings())
            for row in rows:
                yield to_model(row)
            if len(rows) < PAGE:
                return
            after = (float(rows[-1]["created_at"]), str(rows[-1]["id"]))

    def import_records(self, records: Iterable[Record]) -> int:
        """Store exported records (turns already present are kept; memories replaced)."""
        count = 0
        turns: dict[tuple[str, str], dict[str, Any]] = {}
        memories: dict[tuple[str, str], dict[str, Any]] = {}
        for record in records:
            item = from_record(record)
            key = (item.entity_id, item.id)
            if isinstance(item, Turn):
                turns.setdefault(key, turn_to_row(item, self._codec.encode))
            else:
                memories[key] = memory_to_row(item, self._codec.encode)
            count += 1
        if turns or memories:
            with self._write() as conn:
                for part in _chunks(list(turns), 5000):
                    self._insert_new_turns(conn, {k: turns[k] for k in part})
                for mpart in _chunks(list(memories.values()), 5000):
                    self._upsert_memories(conn, list(mpart))
        return count

    def raw_count(self, entity_id: str) -> int:
        """Rows of the entity in every table: turns, memories, outbox, FTS, versions, changes."""
        check_id(entity_id)
        total = 0
        with self._read() as conn:
            for table in (self._turns, self._memories, self._outbox):
                stmt = select(func.count()).select_from(table).where(
                    table.c.entity_id == entity_id
                )
                total += int(conn.execute(stmt).scalar_one())
            for base in (self._turns, self._memories):
                fts = fts_table(base.name)
                total += int(conn.exec_driver_sql(
                    f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?",
                    (entity_expression(entity_id),),
                ).scalar_one())
            total += self._cache.log_rows(conn, entity_id)
        return total

    # augmentation outbox

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        check_store_limit(limit)
        t, o = self._turns, self._outbox
        stmt = (
            select(t)
            .select_from(o.join(t, (t.c.entity_id == o.c.entity_id) & (t.c.id == o.c.turn_id)))
            .order_by(o.c.created_at, o.c.entity_id, o.c.turn_id)
            .limit(limit)
        )
        with self._read() as conn:
            return [self._to_turn(r) for r in conn.execute(stmt).mappings()]

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        """Parked turns, oldest first, across entities (a scan of turns: no state index)."""
        check_store_limit(limit)
        t = self._turns
        stmt = (
            select(t).where(t.c.extract_state == ExtractState.PARKED.value)
            .order_by(t.c.created_at, t.c.entity_id, t.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [self._to_turn(r) for r in conn.execute(stmt).mappings()]

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        check_id(entity_id)
        state = ExtractState(state)
        t, o = self._turns, self._outbox
        values: dict[str, Any] = {"extract_state": state.value}
        if attempts is not None:
            values["extract_attempts"] = int(attempts)
        if error is not None:  # None keeps the last error, as every backend does
            values["extract_error"] = str(error)
        with self._write() as conn:
            for part in _chunks(list(turn_ids)):
                where = (t.c.entity_id == entity_id) & ids_in(t.c.id, part)
                conn.execute(update(t).where(where).values(**values))
                if state is ExtractState.PENDING:
                    conn.execute(
                        sqlite_insert(o)
                        .from_select(["entity_id", "turn_id", "created_at"],
                                     select(t.c.entity_id, t.c.id, t.c.created_at).where(where))
                        .on_conflict_do_nothing()
                    )
                else:
                    conn.execute(delete(o).where(
                        o.c.entity_id == entity_id, ids_in(o.c.turn_id, part)
                    ))
        self._cache.changed("turns", {entity_id})

    # admin (cross entities, by name)

    def admin_stats(self) -> dict[str, Any]:
        """Counts across every entity, the schema revision and the search paths in use."""
        t, m, o = self._turns, self._memories, self._outbox
        with self._read() as conn:
            entities = select(t.c.entity_id).union(select(m.c.entity_id)).subquery()
            stats: dict[str, Any] = {
                "backend": self.name,
                "revision": migrations.current_revision(conn),
                "turns": conn.execute(select(func.count()).select_from(t)).scalar_one(),
                "memories": conn.execute(select(func.count()).select_from(m)).scalar_one(),
                "entities": conn.execute(select(func.count()).select_from(entities)).scalar_one(),
                "outbox_pending": conn.execute(select(func.count()).select_from(o)).scalar_one(),
                "outbox_parked": conn.execute(select(func.count()).select_from(t).where(
                    t.c.extract_state == ExtractState.PARKED.value)).scalar_one(),
                "sqlite_version": conn.exec_driver_sql("SELECT sqlite_version()").scalar_one(),
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
            }
        stats["vector_dim"] = self.vector_dim
        stats["vector_search"] = self.vector_path
        stats.update(self._cache.stats())
        stats["text_search"] = "fts5"
        return stats

    def admin_vacuum(self, *, full: bool = True) -> None:
        """Rebuild the whole file (``VACUUM``, across entities) and truncate the WAL
        (``full`` is accepted as PostgreSQL's is: SQLite's VACUUM is always full).

        What ``forget`` does after its deletes unless ``vacuum_on_forget=False``; also
        clears the free pages of a file written without ``secure_delete`` (by memori
        before it set it). Needs free disk space about the size of the file.
        """
        self._ensure_ready()
        with self._guard, translate_errors():
            erasure.vacuum(self.engine)
        self._truncate_wal()


def _no_vector(_blob: Any) -> None:
    return None


def cache_bound(dim: int | None, items: Any) -> int:
    """The vector cache bound for ``vector_cache_items`` (None: the default; 0: no cache)."""
    if items is not None and (isinstance(items, bool) or not isinstance(items, int) or items < 0):
        raise ConfigurationError("vector_cache_items must be a non-negative int")
    if dim is None:
        return 0
    return min(CACHE_MAX_ITEMS, CACHE_BYTES // (dim * 4)) if items is None else items


def open_store(
    target: Any, *, vector_dim: int | None = None, migrate: bool = False, **options: Any
) -> SQLiteStore:
    """Open (not yet set up) a SQLite store on a URL, an Engine or a DB-API connection.

    Options: ``vector_search`` ("auto", "sqlite-vec" or "exact"), ``busy_timeout``
    (seconds a writer waits for the file's write lock, default 30),
    ``vector_cache_items`` (vectors kept in memory for fast vector search, across
    entities: by default 200,000, fewer above 640 dimensions so they fit in 512 MiB;
    an entity's turns or memories are cached only if they hold at most half of it;
    0 turns the cache off), ``item_cache_items`` (turns and memories kept whole in
    memory, without vectors, for text search and hits: by default 100,000, the same
    half rule; 0 turns it off and text search runs in FTS5), ``item_cache_after``
    (searches of an entity's turns or memories served in SQL before its items are
    cached, default 4: a one-off call in a short-lived process never reads the
    whole entity), ``vacuum_on_forget`` (rebuild the file after ``forget`` so no
    copy of the entity's rows survives in the unused part of a page: default True;
    False makes a forget cost its own rows only, and ``admin_vacuum`` then does it).
    """
    if vector_dim is not None and (type(vector_dim) is not int or vector_dim <= 0):
        raise ConfigurationError("vector_dim must be a positive int or None")
    mode = options.pop("vector_search", "auto")
    busy_ms = busy_timeout_ms(options.pop("busy_timeout", None))
    cache_items = cache_bound(vector_dim, options.pop("vector_cache_items", None))
    item_items = options.pop("item_cache_items", ITEM_CACHE_ITEMS)
    item_after = options.pop("item_cache_after", ITEM_CACHE_AFTER)
    vacuum_on_forget = options.pop("vacuum_on_forget", True)
    if not isinstance(vacuum_on_forget, bool):
        raise ConfigurationError("vacuum_on_forget must be a bool")
    for name, value in (("item_cache_items", item_items), ("item_cache_after", item_after)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} must be a non-negative int")
    if options:
        raise ConfigurationError(f"unknown sqlite options: {', '.join(sorted(options))}")
    opened = resolve_target(target, mode, vectors=vector_dim is not None)
    setup = conns.ConnectionSetup(
        busy_timeout_ms=busy_ms, wal=opened.file_backed, load_vec=opened.load_vec
    )
    return SQLiteStore(
        opened.engine, url_hint=opened.url_hint, owns_engine=opened.owns_engine,
        vector_dim=vector_dim, vector_search=mode, migrate=migrate, connection_setup=setup,
        file_backed=opened.file_backed, vector_cache_items=cache_items,
        item_cache_items=item_items, item_cache_after=item_after,
        vacuum_on_forget=vacuum_on_forget,
    )


__all__ = ["SQLiteStore", "open_store"]
