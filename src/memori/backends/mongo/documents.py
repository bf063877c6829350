"""How turns and memories map to MongoDB documents, and back.

Besides the model's fields a document carries derived fields that keep every
query a plain equality: ``persona`` (a turn's persona, ``""`` for none),
``audience`` (the persona a memory is for, ``""`` when all personas see it),
``current`` (a memory is not superseded), and the text-search fields of
:mod:`.text_search`. ``metadata`` is stored as JSON text:
its keys come from LLM tool calls and may start with ``$`` or contain dots,
which MongoDB would read as operators or paths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from memori.backends.mongo import text_search, vector_search
from memori.backends.mongo.filters import EVERYONE
from memori.core import ExtractState, Memory, Turn, check_id
from memori.core.ids import check_optional_id
from memori.core.records import memory_from_fields, turn_from_fields
from memori.core.store_rules import check_vector

Document = dict[str, Any]
ITEM_FIELDS_EXCLUDED_FROM_RESULTS = ("terms", "term_freqs", "term_total")


def _metadata_out(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    loaded = json.loads(value) if isinstance(value, str) else dict(value)
    return loaded if isinstance(loaded, dict) else {}


def _metadata_in(metadata: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(metadata), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"metadata must be JSON-serialisable: {e}") from e


def _embedding_in(embedding: Sequence[float] | None, dim: int | None) -> Any:
    if embedding is None or dim is None:  # a store opened without vectors keeps none
        return None
    return vector_search.encode(check_vector(embedding, dim))


def audience(process_id: str | None, shared: bool) -> str:
    """Who may see a memory: its persona, or everyone (no persona, or shared)."""
    return EVERYONE if process_id is None or shared else process_id


def turn_to_doc(turn: Turn, dim: int | None) -> Document:
    check_id(turn.id, "turn id")
    doc: Document = {
        "entity_id": turn.entity_id,
        "id": turn.id,
        "process_id": turn.process_id,
        "persona": EVERYONE if turn.process_id is None else turn.process_id,
        "session_id": turn.session_id,
        "role": turn.role,
        "content": turn.content,
        "created_at": float(turn.created_at),
        "metadata": _metadata_in(turn.metadata),
        "extract_state": ExtractState(turn.extract_state).value,
        "extract_attempts": int(turn.extract_attempts),
        "extract_error": turn.extract_error,
        "embedding": _embedding_in(turn.embedding, dim),
    }
    doc.update(text_search.term_fields(turn.content))
    return doc


def doc_to_turn(doc: Mapping[str, Any]) -> Turn:
    return turn_from_fields(doc, metadata=_metadata_out(doc.get("metadata")),
                            embedding=_embedding_out(doc.get("embedding")))


def memory_to_doc(memory: Memory, dim: int | None) -> Document:
    check_id(memory.id, "memory id")
    check_optional_id(memory.superseded_by, "superseded_by")
    doc: Document = {
        "entity_id": memory.entity_id,
        "id": memory.id,
        "process_id": memory.process_id,
        "session_id": memory.session_id,
        "shared": bool(memory.shared),
        "audience": audience(memory.process_id, bool(memory.shared)),
        "kind": str(memory.kind),
        "content": memory.content,
        "created_at": float(memory.created_at),
        "updated_at": memory.updated_at,
        "last_seen_at": memory.last_seen_at,
        "count": int(memory.count),
        "superseded_by": memory.superseded_by,
        "current": memory.superseded_by is None,
        "source_turn_ids": [str(t) for t in memory.source_turn_ids],
        "metadata": _metadata_in(memory.metadata),
        "embedding": _embedding_in(memory.embedding, dim),
        "pinned": bool(memory.pinned),
        "expires_at": None if memory.expires_at is None else float(memory.expires_at),
    }
    doc.update(text_search.term_fields(memory.content))
    return doc


def doc_to_memory(doc: Mapping[str, Any]) -> Memory:
    return memory_from_fields(doc, metadata=_metadata_out(doc.get("metadata")),
                              embedding=_embedding_out(doc.get("embedding")))


def _embedding_out(value: Any) -> tuple[float, ...] | None:
    vector = vector_search.decode(value)
    return None if vector is None else tuple(vector.tolist())


def memory_patch(changes: Mapping[str, Any], process_id: str | None) -> Document:
    """The ``$set`` document for changes checked by ``store_rules.check_patch``, derived
    fields included. ``process_id`` is the stored memory's persona (it never changes),
    needed to recompute ``audience`` when ``shared`` changes."""
    out: Document = dict(changes)
    if "content" in changes:
        out.update(text_search.term_fields(changes["content"]))
    if "shared" in changes:
        out["audience"] = audience(process_id, changes["shared"])
    if "superseded_by" in changes:
        out["current"] = changes["superseded_by"] is None
    if "metadata" in changes:
        out["metadata"] = _metadata_in(changes["metadata"])
    if changes.get("embedding") is not None:
        out["embedding"] = vector_search.encode(changes["embedding"])
    if "source_turn_ids" in changes:
        out["source_turn_ids"] = list(changes["source_turn_ids"])
    return out


def result_projection() -> dict[str, int]:
    """Leave the derived text fields out of what is read back."""
    return {f: 0 for f in ITEM_FIELDS_EXCLUDED_FROM_RESULTS}
