"""Database requests as values, so one plan serves the sync and the async client.

A *plan* is a generator that yields these requests and receives each result
(``result = yield Find(...)``); its return value is the answer. The store runs
plans with pymongo's ``MongoClient`` (:func:`run`) or its native
``AsyncMongoClient`` (:func:`arun`): the logic exists once, the I/O twice.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.operations import DeleteMany, IndexModel, ReplaceOne, SearchIndexModel, UpdateMany
from pymongo.synchronous.database import Database

T = TypeVar("T")
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
Plan = Generator[Request, Any, T]


def _write_counts(result: Any) -> tuple[int, int]:
    return result.matched_count + result.upserted_count, result.deleted_count


def _execute(db: Database[Doc], request: Request, prefix: str) -> Any:
    if isinstance(request, Attempt):
        try:
            return True, _execute(db, request.request, prefix)
        except request.errors as e:
            return False, e
    coll = db[prefix + request.collection]
    if isinstance(request, Find):
        cursor = coll.find(request.filter, request.projection, skip=request.skip,
                           limit=request.limit, sort=list(request.sort) if request.sort else None)
        return list(cursor)
    if isinstance(request, Aggregate):
        return list(coll.aggregate(list(request.pipeline)))
    if isinstance(request, Count):
        return coll.count_documents(request.filter)
    if isinstance(request, Write):
        return _write_counts(coll.bulk_write(list(request.requests), ordered=True))
    if isinstance(request, UpdateOne):
        return coll.update_one(request.filter, request.update, upsert=request.upsert).matched_count
    if isinstance(request, Delete):
        return coll.delete_many(request.filter).deleted_count
    if isinstance(request, CreateIndexes):
        return coll.create_indexes(list(request.indexes))
    if isinstance(request, ListIndexes):
        return coll.index_information()
    if isinstance(request, ListSearchIndexes):
        return list(coll.list_search_indexes())
    if isinstance(request, CreateSearchIndex):
        return coll.create_search_index(request.model)
    raise TypeError(f"unknown request {request!r}")


async def _aexecute(db: AsyncDatabase[Doc], request: Request, prefix: str) -> Any:
    if isinstance(request, Attempt):
        try:
            return True, await _aexecute(db, request.request, prefix)
        except request.errors as e:
            return False, e
    coll = db[prefix + request.collection]
    if isinstance(request, Find):
        cursor = coll.find(request.filter, request.projection, skip=request.skip,
                           limit=request.limit, sort=list(request.sort) if request.sort else None)
        return await cursor.to_list()
    if isinstance(request, Aggregate):
        return await (await coll.aggregate(list(request.pipeline))).to_list()
    if isinstance(request, Count):
        return await coll.count_documents(request.filter)
    if isinstance(request, Write):
        return _write_counts(await coll.bulk_write(list(request.requests), ordered=True))
    if isinstance(request, UpdateOne):
        result = await coll.update_one(request.filter, request.update, upsert=request.upsert)
        return result.matched_count
    if isinstance(request, Delete):
        return (await coll.delete_many(request.filter)).deleted_count
    if isinstance(request, CreateIndexes):
        return await coll.create_indexes(list(request.indexes))
    if isinstance(request, ListIndexes):
        return await coll.index_information()
    if isinstance(request, ListSearchIndexes):
        return await (await coll.list_search_indexes()).to_list()
    if isinstance(request, CreateSearchIndex):
        return await coll.create_search_index(request.model)
    raise TypeError(f"unknown request {request!r}")


def run(plan: Plan[T], db: Database[Doc], prefix: str) -> T:
    """Drive a plan with the sync client."""
    try:
        request = next(plan)
        while True:
            request = plan.send(_execute(db, request, prefix))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def arun(plan: Plan[T], db: AsyncDatabase[Doc], prefix: str) -> T:
    """Drive a plan with the native async client (no thread offload)."""
    try:
        request = next(plan)
        while True:
            request = plan.send(await _aexecute(db, request, prefix))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
