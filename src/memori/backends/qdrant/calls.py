"""Store operations written once for both clients (sans-I/O).

An operation is a generator that yields :class:`Call` values (a qdrant-client method
name and its keyword arguments) and receives each call's result; the sync store
runs it against ``QdrantClient``, the async twin awaits the same calls on
``AsyncQdrantClient``. So the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qdrant_client import models

from memori.backends.qdrant.payload import DENSE

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One qdrant-client method call: ``getattr(client, method)(**kwargs)``."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


Op = Generator[Call, Any, T]
"""An operation returning ``T``."""

PAGE = 256
"""Points per scroll page and per upsert batch."""


def scroll_page(
    collection: str, flt: models.Filter | None, *, limit: int, offset: Any = None,
    order_by: models.OrderBy | None = None, vectors: bool = False,
) -> Op[tuple[list[models.Record], Any]]:
    kwargs: dict[str, Any] = {
        "collection_name": collection, "scroll_filter": flt, "limit": limit,
        "with_payload": True, "with_vectors": [DENSE] if vectors else False,
    }
    if order_by is not None:
        kwargs["order_by"] = order_by
    else:
        kwargs["offset"] = offset
    result: tuple[list[models.Record], Any] = yield Call("scroll", kwargs)
    return result


def scroll_all(
    collection: str, flt: models.Filter | None, *, vectors: bool = False,
) -> Op[list[models.Record]]:
    """Every point matching ``flt`` (pages in point id order)."""
    records: list[models.Record] = []
    offset: Any = None
    while True:
        page, offset = yield from scroll_page(
            collection, flt, limit=PAGE, offset=offset, vectors=vectors
        )
        records.extend(page)
        if offset is None:
            return records


def count(collection: str, flt: models.Filter | None) -> Op[int]:
    result: models.CountResult = yield Call(
        "count", {"collection_name": collection, "count_filter": flt, "exact": True}
    )
    return int(result.count)


def delete_matching(collection: str, flt: models.Filter) -> Op[int]:
    """Delete the points matching ``flt``; returns how many there were."""
    records = yield from scroll_ids(collection, flt)
    ids: list[models.ExtendedPointId] = [r.id for r in records]
    for start in range(0, len(ids), PAGE):
        chunk = ids[start : start + PAGE]
        scoped = models.Filter(
            must=[flt, models.HasIdCondition(has_id=chunk)]
        )
        yield Call("delete", {
            "collection_name": collection,
            "points_selector": models.FilterSelector(filter=scoped),
            "wait": True,
        })
    return len(ids)


def scroll_ids(collection: str, flt: models.Filter) -> Op[list[models.Record]]:
    """Point ids (no payload) of every point matching ``flt``."""
    records: list[models.Record] = []
    offset: Any = None
    while True:
        page, offset = yield Call("scroll", {
            "collection_name": collection, "scroll_filter": flt, "limit": PAGE * 4,
            "offset": offset, "with_payload": False, "with_vectors": False,
        })
        records.extend(page)
        if offset is None:
            return records


def upsert(collection: str, points: list[models.PointStruct]) -> Op[None]:
    for start in range(0, len(points), PAGE):
        yield Call("upsert", {
            "collection_name": collection, "points": points[start : start + PAGE], "wait": True,
        })


def run(op: Op[T], call: Callable[[Call], Any]) -> T:
    """Drive ``op`` with a blocking ``call``; a call's exception is raised inside ``op``."""
    try:
        request = next(op)
        while True:
            try:
                result = call(request)
            except Exception as e:
                request = op.throw(e)
            else:
                request = op.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def arun(op: Op[T], call: Callable[[Call], Awaitable[Any]]) -> T:
    """Drive ``op`` with an awaitable ``call`` (the async twin of :func:`run`)."""
    try:
        request = next(op)
        while True:
            try:
                result = await call(request)
            except Exception as e:
                request = op.throw(e)
            else:
                request = op.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
