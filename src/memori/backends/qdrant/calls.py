"""qdrant-client calls as plan steps, and the plans every operation shares.

A Qdrant plan (see :mod:`memori.core.plan_store`) yields :class:`Call` values (a
qdrant-client method name and its keyword arguments) and receives each call's
result; the store runs the same plan on ``QdrantClient`` or awaits it on
``AsyncQdrantClient``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models

from memori.backends.qdrant.payload import DENSE
from memori.core.plan_store import Plan


@dataclass(frozen=True)
class Call:
    """One qdrant-client method call: ``getattr(client, method)(**kwargs)``."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    tolerated: bool = False
    """A failure becomes the step's result (the memori error) instead of being raised."""


PAGE = 256
"""Points per scroll page and per upsert batch."""


def scroll_page(
    collection: str, flt: models.Filter | None, *, limit: int, offset: Any = None,
    order_by: models.OrderBy | None = None, vectors: bool = False,
) -> Plan[tuple[list[models.Record], Any]]:
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
) -> Plan[list[models.Record]]:
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


def count(collection: str, flt: models.Filter | None) -> Plan[int]:
    result: models.CountResult = yield Call(
        "count", {"collection_name": collection, "count_filter": flt, "exact": True}
    )
    return int(result.count)


def delete_matching(collection: str, flt: models.Filter) -> Plan[int]:
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


def scroll_ids(collection: str, flt: models.Filter) -> Plan[list[models.Record]]:
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


def upsert(collection: str, points: list[models.PointStruct]) -> Plan[None]:
    for start in range(0, len(points), PAGE):
        yield Call("upsert", {
            "collection_name": collection, "points": points[start : start + PAGE], "wait": True,
        })
