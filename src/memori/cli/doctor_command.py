"""doctor: the store, its schema and search paths, the write path and the embedder, checked
the way ``Memori`` opens them, with advice that fits the URL's backend."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Mapping
from typing import Any

from memori.cli.common import shown_text, shown_url, url_of
from memori.cli.errors import OK, UNHEALTHY
from memori.cli.output import emit_json, key_values
from memori.cli.pipeline_commands import pipeline_report
from memori.config import open_backend
from memori.core import Embedder, MemoriError, get_plugins

SQLITE_VEC_MISSING = "not installed (exact vector scan): pip install 'memori[sqlite-vec]'"


def _embedder(args: argparse.Namespace) -> tuple[str, Embedder | None, bool]:
    """The embedder ``Memori`` would use: (status line, the embedder, whether it works)."""
    from memori.embedders.resolve import default_embedder, resolve_embedder

    name = args.embedder
    try:
        emb = default_embedder() if name in (None, "default") else resolve_embedder(name)
        if emb is None:
            return "none (text search only)", None, True
        emb.embed(["doctor check"])
    except Exception as e:
        return shown_text(f"error: {type(e).__name__}: {e}", args), None, False
    return f"{emb.name} (dim {emb.dim}) ok", emb, True


def _backend_name(url: str) -> str | None:
    """The backend registered for the URL's scheme, or None (the open reports why)."""
    try:
        return get_plugins().backend_for_url(url).name
    except MemoriError:
        return None


def _vector_modes(admin: Mapping[str, Any]) -> set[str]:
    search = admin.get("search")
    vector = search.get("vector") if isinstance(search, Mapping) else None
    return set(vector.values()) if isinstance(vector, Mapping) else set()


def backend_advice(backend: str | None, admin: Mapping[str, Any]) -> dict[str, str]:
    """What is worth knowing or installing for this backend's vector search.

    SQLite: whether sqlite-vec can be used (else the exact scan, and the extra that
    brings it); PostgreSQL: the pgvector version the store found; MongoDB: whether the
    server's ``$vectorSearch`` or the exact in-scope scan runs. Nothing about one
    backend's accelerator is said for another's URL.
    """
    if backend == "sqlite":
        found = importlib.util.find_spec("sqlite_vec") and importlib.util.find_spec("pysqlite3")
        return {"sqlite-vec": "available" if found else SQLITE_VEC_MISSING}
    if backend == "postgres":
        version = admin.get("pgvector")
        return {"pgvector": str(version) if version else "unknown (the database was not reached)"}
    if backend == "mongo":
        modes = _vector_modes(admin)
        if "fallback" in modes:
            return {"vector search": "exact in-scope scan: this server offers no $vectorSearch "
                                     "(see docs/backends/mongo.md)"}
        if modes:
            return {"vector search": "$vectorSearch"}
    return {}


def cmd_doctor(args: argparse.Namespace) -> int:
    url = url_of(args)
    report: dict[str, Any] = {"url": shown_url(args)}
    embedder_status, embedder, healthy = _embedder(args)
    admin: Mapping[str, Any] = {}
    try:
        # the dimension Memori would open the store with, so doctor and stats agree
        store = open_backend(url, vector_dim=embedder.dim if embedder is not None else None)
    except MemoriError as e:
        report["backend"] = shown_text(f"error: {e}", args)
        store, healthy = None, False
    if store is not None:
        report["backend"] = store.name
        try:
            store.setup()
            report["schema"] = "ok (at the current revision)"
            report["capabilities"] = ", ".join(sorted(c.value for c in store.capabilities))
            admin = store.admin_stats()
            report.update({f"stats.{k}": v for k, v in admin.items()})
            report.update(pipeline_report(store, args, admin))
        except MemoriError as e:
            report["schema"] = shown_text(f"error: {e}", args)
            healthy = False
        except Exception as e:
            report["connectivity"] = shown_text(f"error: {type(e).__name__}: {e}", args)
            healthy = False
        finally:
            store.close()
    report.update(backend_advice(store.name if store is not None else _backend_name(url), admin))
    report["embedder"] = embedder_status
    report["healthy"] = healthy
    if args.json:
        emit_json(report)
    else:
        key_values(report)
    return OK if healthy else UNHEALTHY
