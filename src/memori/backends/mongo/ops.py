"""Database requests as values, so one plan serves the sync and the async client.

A plan (see :mod:`memori.core.plan_store`) yields these requests and receives
each result (``result = yield Find(...)``); the store executes them with pymongo's
``MongoClient`` (:func:`execute`) or its native ``AsyncMongoClient``
(:func:`aexecute`): the logic exists once, the I/O twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.operations import DeleteMany, IndexModel, ReplaceOne, SearchIndexModel, UpdateMany
from pymongo.synchronous.database import Database

Doc = dict[str, Any]
WriteModel = ReplaceOne[Doc] | UpdateMany | DeleteMany


@dataclass(frozen=True)
class Find:
    """``find`` -> list of documents."""

    collection: str
    filter: Mapping[str, Any]
    projection: Mapping[str, Any] | None = None
    sort: Sequence[tuple[str, int]] | None = None
    skip: int = 0
    limit: int = 0


@dataclass(frozen=True)
class Aggregate:
    """``aggregate`` -> list of documents."""

    collection: str
    pipeline: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Count:
    """``count_documents`` -> int."""

    collection: str
    filter: Mapping[str, Any]


@dataclass(frozen=True)
class Write:
    """``bulk_write`` (ordered) -> (matched + upserted, deleted)."""

    collection: str
    requests: Sequence[WriteModel]


@dataclass(frozen=True)
class UpdateOne:
    """``update_one`` -> matched count."""

    collection: str
    filter: Mapping[str, Any]
    update: Mapping[str, Any]
    upsert: bool = False


@dataclass(frozen=True)
class Delete:
    """``delete_many`` -> deleted count."""

    collection: str
    filter: Mapping[str, Any]


@dataclass(frozen=True)
class CreateIndexes:
    """``create_indexes`` -> names. Raises the driver's error for the plan to handle."""

    collection: str
    indexes: Sequence[IndexModel]


@dataclass(frozen=True)
class ListIndexes:
    """``index_information`` -> {name: info}."""

    collection: str


@dataclass(frozen=True)
class ListSearchIndexes:
    """``list_search_indexes`` -> list of index descriptions."""

    collection: str


@dataclass(frozen=True)
class CreateSearchIndex:
    """``create_search_index`` -> name."""

    collection: str
    model: SearchIndexModel


@dataclass(frozen=True)
class Attempt:
    """Run ``request``; the plan receives ``(True, result)`` or ``(False, exception)``.

    For probes (does the server have text indexes?) whose failure is an answer.
    """

    request: Request
    errors: tuple[type[BaseException], ...] = field(default=(Exception,))


Request = (
    Find | Aggregate | Count | Write | UpdateOne | Delete | CreateIndexes | ListIndexes
    | ListSearchIndexes | CreateSearchIndex | Attempt
)


LISTED = (Find, Aggregate, ListSearchIndexes)
"""Requests answered by a cursor, read to the end."""


def _call(coll: Any, r: Request) -> Any:
    """The driver call for ``r``: the sync client's result, the async client's awaitable."""
    if isinstance(r, Find):
        return coll.find(r.filter, r.projection, skip=r.skip, limit=r.limit,
                         sort=list(r.sort) if r.sort else None)
    if isinstance(r, Aggregate):
        return coll.aggregate(list(r.pipeline))
    if isinstance(r, Count):
        return coll.count_documents(r.filter)
    if isinstance(r, Write):
        return coll.bulk_write(list(r.requests), ordered=True)
    if isinstance(r, UpdateOne):
        return coll.update_one(r.filter, r.update, upsert=r.upsert)
    if isinstance(r, Delete):
        return coll.delete_many(r.filter)
    if isinstance(r, CreateIndexes):
        return coll.create_indexes(list(r.indexes))
    if isinstance(r, ListIndexes):
        return coll.index_information()
    if isinstance(r, ListSearchIndexes):
        return coll.list_search_indexes()
    if isinstance(r, CreateSearchIndex):
        return coll.create_search_index(r.model)
    raise TypeError(f"unknown request {r!r}")


def _answer(r: Request, result: Any) -> Any:
    if isinstance(r, Write):
        return result.matched_count + result.upserted_count, result.deleted_count
    if isinstance(r, UpdateOne):
        return result.matched_count
    if isinstance(r, Delete):
        return result.deleted_count
    return result


def execute(db: Database[Doc], prefix: str, request: Request) -> Any:
    """Run ``request`` on the sync client."""
    if isinstance(request, Attempt):
        try:
            return True, execute(db, prefix, request.request)
        except request.errors as e:
            return False, e
    result = _call(db[prefix + request.collection], request)
    return _answer(request, list(result) if isinstance(request, LISTED) else result)


async def aexecute(db: AsyncDatabase[Doc], prefix: str, request: Request) -> Any:
    """Run ``request`` on the native async client (no thread offload)."""
    if isinstance(request, Attempt):
        try:
            return True, await aexecute(db, prefix, request.request)
        except request.errors as e:
            return False, e
    result = _call(db[prefix + request.collection], request)
    if inspect.isawaitable(result):
        result = await result
    return _answer(request, await result.to_list() if isinstance(request, LISTED) else result)
