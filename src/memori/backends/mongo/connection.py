"""What the store talks to: a URL, or the user's own sync and/or async client or database.

From a ``mongodb://`` or ``mongodb+srv://`` URL both a ``MongoClient`` and an
``AsyncMongoClient`` are created lazily, on first use, and closed by the store.
Objects the user passes (``MongoClient``, ``AsyncMongoClient``, ``Database``,
``AsyncDatabase``) are used as given and never closed by the store; the other
flavour may be passed as ``async_client=`` / ``sync_client=``. pymongo binds an
async client to the event loop it first runs on, so a store made from a URL creates
one per event loop it is used from (a script or worker may call ``asyncio.run``
again and again); a user's async client serves its own loop only. ``aclose()`` closes
the running loop's client and the sync one (the other loops' are dropped: their
loops have ended or are not this one), ``close()`` the sync one.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidName, PyMongoError
from pymongo.synchronous.database import Database

from memori.core import ConfigurationError, StoreUnavailableError
from memori.core.redact import option_secrets, redact_url, scrub, secrets_in
from memori.core.urls import url_scheme

DEFAULT_DATABASE = "memori"
SCHEMES = ("mongodb", "mongodb+srv")
DEFAULT_CLIENT_OPTIONS: Mapping[str, Any] = {"appname": "memori", "serverSelectionTimeoutMS": 5000}

Doc = dict[str, Any]


def _url_database(url: str) -> str | None:
    path = urlsplit(url).path.lstrip("/")
    return unquote(path) or None


class Connection:
    """Resolves the target once; hands out the sync and async ``Database`` on demand."""

    def __init__(
        self, target: Any, *, database: str | None = None, async_client: Any = None,
        sync_client: Any = None, client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url: str | None = None
        self.secrets: tuple[str, ...] = option_secrets(client_options or {})
        self._lock = threading.Lock()
        self._closed = False
        self._client_options = {**DEFAULT_CLIENT_OPTIONS, **(client_options or {})}
        self._sync: Database[Doc] | None = None
        self._async: AsyncDatabase[Doc] | None = None
        self._own_sync: MongoClient[Doc] | None = None
        self._own_async: weakref.WeakKeyDictionary[  # by event loop: its client's database
            asyncio.AbstractEventLoop, AsyncDatabase[Doc]] = weakref.WeakKeyDictionary()
        if isinstance(target, str):
            if url_scheme(target) not in SCHEMES:
                raise ConfigurationError(f"not a MongoDB URL: {redact_url(target)}")
            self.url = target
            self.secrets += secrets_in(target)
            name = database or _url_database(target) or DEFAULT_DATABASE
        else:
            name = self._adopt(target, database)
        for extra in (async_client, sync_client):
            if extra is not None:
                self._adopt(extra, name)
        self.database_name = name
        if self.url is None and self._sync is None and self._async is None:
            raise ConfigurationError("no MongoDB client or database given")

    def _adopt(self, obj: Any, database: str | None) -> str:
        """Take a user's client or database object; returns the database name in use."""
        try:
            if isinstance(obj, MongoClient):
                db = obj[database] if database else obj.get_default_database(DEFAULT_DATABASE)
                self._set(sync=db)
            elif isinstance(obj, AsyncMongoClient):
                adb = obj[database] if database else obj.get_default_database(DEFAULT_DATABASE)
                self._set(async_=adb)
            elif isinstance(obj, Database | AsyncDatabase):
                if database and database != obj.name:
                    raise ConfigurationError(
                        f"database={database!r} conflicts with the given database {obj.name!r}"
                    )
                if isinstance(obj, Database):
                    self._set(sync=obj)
                else:
                    self._set(async_=obj)
            else:
                raise ConfigurationError(
                    f"cannot use a {type(obj).__module__}.{type(obj).__qualname__} as a "
                    "MongoDB target: pass a mongodb:// URL, a MongoClient, an AsyncMongoClient "
                    "or a Database"
                )
        except InvalidName as e:
            raise ConfigurationError(f"invalid MongoDB database name: {e}") from e
        return self._sync.name if self._sync is not None else self._async.name  # type: ignore[union-attr]

    def _set(self, *, sync: Database[Doc] | None = None,
             async_: AsyncDatabase[Doc] | None = None) -> None:
        if sync is not None:
            if self._sync is not None:
                raise ConfigurationError("two sync MongoDB clients given")
            self._sync = sync
        if async_ is not None:
            if self._async is not None:
                raise ConfigurationError("two async MongoDB clients given")
            self._async = async_

    @property
    def has_sync(self) -> bool:
        return self.url is not None or self._sync is not None

    @property
    def has_async(self) -> bool:
        return self.url is not None or self._async is not None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError("the mongo store is closed")

    def db(self) -> Database[Doc]:
        """The sync database, creating the client from the URL on first use."""
        self._check_open()
        if self._sync is not None:
            return self._sync
        if self.url is None:
            raise ConfigurationError(
                "this mongo store was given only an async client: pass sync_client= "
                "(a MongoClient) to use the sync methods"
            )
        with self._lock:
            if self._sync is None:
                try:
                    self._own_sync = MongoClient(self.url, **self._client_options)
                    self._sync = self._own_sync[self.database_name]
                except (PyMongoError, ValueError, TypeError) as e:
                    raise ConfigurationError(
                        scrub(f"cannot open {self.describe()}: {e}", self.secrets)) from None
            return self._sync

    def adb(self) -> AsyncDatabase[Doc]:
        """The async database: a user's, or that of the running loop's own client,
        created from the URL on the loop's first use."""
        self._check_open()
        if self._async is not None:
            return self._async
        if self.url is None:
            raise ConfigurationError(
                "this mongo store was given only a sync client: pass async_client= "
                "(an AsyncMongoClient) to use the async methods"
            )
        loop = asyncio.get_running_loop()
        adb = self._own_async.get(loop)
        if adb is not None:  # every read after the loop's first: no lock
            return adb
        with self._lock:
            adb = self._own_async.get(loop)
            if adb is None:
                try:
                    client: AsyncMongoClient[Doc] = AsyncMongoClient(
                        self.url, **self._client_options)
                except (PyMongoError, ValueError, TypeError) as e:
                    raise ConfigurationError(
                        scrub(f"cannot open {self.describe()}: {e}", self.secrets)) from None
                adb = self._own_async[loop] = client[self.database_name]
            return adb

    def close(self) -> None:
        """Close the sync client the store created (never a client the user passed)."""
        self._closed = True
        client, self._own_sync = self._own_sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the clients the store created: the sync one and this loop's async one."""
        self._closed = True
        with self._lock:
            adb = self._own_async.pop(asyncio.get_running_loop(), None)
            self._own_async.clear()
        if adb is not None:
            await adb.client.close()
        self.close()

    def describe(self) -> str:
        """Where the store points, with any password redacted."""
        where = redact_url(self.url) if self.url else "a user-supplied client"
        return f"{where} (database {self.database_name!r})"
