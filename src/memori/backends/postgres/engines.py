"""Engines for the PostgreSQL store: a sync and a native async engine from one target.

A URL gives both (psycopg 3 serves SQLAlchemy's sync and asyncio engines). A
caller's Engine or AsyncEngine gives its twin from the same URL when it has one.
A caller's psycopg connection is borrowed: used between the caller's own
transactions, never closed, and its autocommit setting is restored after each use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from memori.backends.sql.forks import fresh_pool_in_children
from memori.core.errors import ConfigurationError
from memori.core.redact import redact_url

DRIVER = "postgresql+psycopg"
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg_async")
POOL_OPTIONS = (
    "pool_size", "max_overflow", "pool_timeout", "pool_recycle", "pool_pre_ping", "pool_use_lifo",
)
ENGINE_OPTIONS = (*POOL_OPTIONS, "connect_args", "echo")


def normalise_url(url: str) -> URL:
    """``postgresql://``, ``postgres://`` or ``postgresql+psycopg://`` as a psycopg 3 URL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # the message may quote the URL: never chained
        raise ConfigurationError(f"not a PostgreSQL URL: {redact_url(url)}") from None
    if parsed.drivername not in SCHEMES:
        raise ConfigurationError(
            f"the postgres backend takes postgresql:// or postgresql+psycopg:// URLs, "
            f"not {parsed.drivername}://"
        )
    return parsed.set(drivername=DRIVER)


def _has_target(url: URL) -> bool:
    """Whether ``url`` names a server or database (a creator-built engine's URL does not)."""
    return bool(url.host or url.database or url.query.get("host"))


def engine_options(options: Mapping[str, Any], *, pooled: bool = True) -> dict[str, Any]:
    """The engine keyword arguments among ``options`` (pool ones only for a pooled engine)."""
    out = {k: options[k] for k in ENGINE_OPTIONS if k in options}
    if not pooled:
        for k in POOL_OPTIONS:
            out.pop(k, None)
    return out


def _check_psycopg_dialect(engine: Engine | AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        raise ConfigurationError(f"not a PostgreSQL engine: {engine.dialect.name}")
    if engine.dialect.driver not in ("psycopg", "psycopg_async"):
        raise ConfigurationError(
            f"the postgres backend needs the psycopg (3) driver, this engine uses "
            f"{engine.dialect.driver}: create it with a postgresql+psycopg:// URL"
        )


def _check_idle(raw: Any) -> None:
    """Refuse a borrowed connection in the middle of the caller's transaction."""
    if int(raw.info.transaction_status) != 0:  # psycopg.pq.TransactionStatus.IDLE
        raise ConfigurationError(
            "the borrowed psycopg connection has a transaction in progress: "
            "commit or roll it back before memori uses the connection"
        )


def _borrow_events(engine: Engine) -> None:
    """Use a caller's connection between its transactions, restoring its autocommit."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        _check_idle(getattr(dbapi_conn, "driver_connection", None) or dbapi_conn)
        record.info["memori_autocommit"] = bool(dbapi_conn.autocommit)
        if dbapi_conn.autocommit:
            dbapi_conn.autocommit = False

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is not None and record.info.pop("memori_autocommit", False):
            dbapi_conn.autocommit = True


@dataclass
class Engines:
    """The sync and async engines of one store, and which of them the store must dispose."""

    url_hint: str
    sync: Engine | None = None
    async_: AsyncEngine | None = None
    owns_sync: bool = False
    owns_async: bool = False
    borrowed: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def guard(self) -> AbstractContextManager[Any]:
        """Serialises transactions on a single borrowed connection (no-op for a pool)."""
        return self._lock if self.borrowed else nullcontext()

    def require_sync(self) -> Engine:
        if self.sync is None:
            raise ConfigurationError(
                "this postgres store was opened on an async connection: use the a* methods"
            )
        return self.sync

    def dispose(self) -> None:
        """Close pooled connections of owned engines (an async pool is dereferenced only)."""
        if self.sync is not None and self.owns_sync:
            self.sync.dispose()
        if self.async_ is not None and self.owns_async:
            self.async_.sync_engine.dispose(close=False)

    async def adispose(self) -> None:
        if self.async_ is not None and self.owns_async:
            await self.async_.dispose()
        if self.sync is not None and self.owns_sync:
            self.sync.dispose()


def engines_for(target: Any, options: Mapping[str, Any]) -> Engines:
    """Sync and async engines for a URL, an Engine, an AsyncEngine or a psycopg connection."""
    if isinstance(target, URL):
        target = target.render_as_string(hide_password=False)
    if isinstance(target, str):
        url = normalise_url(target)
        kw = engine_options(options)
        return _owned(Engines(
            url_hint=_hint(url),
            sync=create_engine(url, **kw), async_=create_async_engine(url, **kw),
            owns_sync=True, owns_async=True,
        ))
    if isinstance(target, AsyncEngine):
        _check_psycopg_dialect(target)
        twin = (create_engine(target.url.set(drivername=DRIVER), **engine_options(options))
                if _has_target(target.url) else None)
        return _owned(Engines(url_hint=_hint(target.url), sync=twin,
                              async_=target, owns_sync=twin is not None))
    if isinstance(target, Engine):
        _check_psycopg_dialect(target)
        atwin = (create_async_engine(target.url.set(drivername=DRIVER), **engine_options(options))
                 if _has_target(target.url) else None)
        return _owned(Engines(url_hint=_hint(target.url), sync=target,
                              async_=atwin, owns_async=atwin is not None))
    return _borrowed(target, options)


def _owned(engines: Engines) -> Engines:
    """``engines``, the ones it owns given fresh pools in forked children."""
    if engines.sync is not None and engines.owns_sync:
        fresh_pool_in_children(engines.sync)
    if engines.async_ is not None and engines.owns_async:
        fresh_pool_in_children(engines.async_.sync_engine)
    return engines


def _hint(url: URL) -> str:
    """How messages and reprs name ``url``: password and ``?password=`` masked."""
    return redact_url(url.render_as_string(hide_password=True))


def _borrowed(conn: Any, options: Mapping[str, Any]) -> Engines:
    import psycopg

    kw = engine_options(options, pooled=False)
    hint = _connection_hint(conn)
    if isinstance(conn, psycopg.AsyncConnection):

        async def _same() -> Any:
            _check_idle(conn)
            return conn

        aengine = create_async_engine(DRIVER + "://", async_creator=_same,
                                      poolclass=StaticPool, **kw)
        _borrow_events(aengine.sync_engine)
        return Engines(url_hint=hint, async_=aengine, borrowed=True)
    if isinstance(conn, psycopg.Connection):
        def _creator() -> Any:
            _check_idle(conn)
            return conn

        engine = create_engine(DRIVER + "://", creator=_creator, poolclass=StaticPool, **kw)
        _borrow_events(engine)
        return Engines(url_hint=hint, sync=engine, borrowed=True)
    raise ConfigurationError(
        f"cannot open a postgres store on a {type(conn).__module__}.{type(conn).__qualname__}"
    )


def _connection_hint(conn: Any) -> str:
    """``postgresql://user@host:port/db`` of a psycopg connection (never its password)."""
    try:
        info = conn.info
        host = info.host or ""
        host = f"[{host}]" if host.startswith("/") else host
        return f"postgresql://{info.user}@{host}:{info.port}/{info.dbname}"
    except Exception:  # a closed or odd connection still gets a harmless name
        return "postgresql://<borrowed connection>"
