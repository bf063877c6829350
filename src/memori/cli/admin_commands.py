"""backends, doctor, migrate."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from memori.cli.common import shown_text, shown_url, url_of
from memori.cli.errors import OK, UNHEALTHY, USAGE, CLIError
from memori.cli.output import emit_json, key_values, table
from memori.cli.pipeline_commands import pipeline_report
from memori.config import open_backend
from memori.core import MemoriError, SupportsAdminVacuum, get_plugins


def cmd_backends(args: argparse.Namespace) -> int:
    plugins = get_plugins()
    rows = [
        {"name": s.name, "schemes": ", ".join(s.schemes) or "-",
         "installed": "yes" if s.is_installed() else f"no: pip install 'memori[{s.extra}]'",
         "description": s.description}
        for s in plugins.backends.values()
    ]
    rows.sort(key=lambda r: r["name"])
    if args.json:
        emit_json({"backends": rows, "plugins": plugins.plugin_names(),
                   "embedders": sorted(plugins.embedders),
                   "extractors": sorted(plugins.extractors),
                   "retrievers": sorted(plugins.retrievers),
                   "redactors": sorted(plugins.redactors)})
    else:
        table(rows, ["name", "schemes", "installed", "description"], max_width=70)
    return OK


def _embedder_status(args: argparse.Namespace) -> str:
    from memori.embedders.resolve import default_embedder, resolve_embedder

    name = args.embedder
    try:
        emb = default_embedder() if name in (None, "default") else resolve_embedder(name)
    except Exception as e:
        return shown_text(f"error: {type(e).__name__}: {e}", args)
    if emb is None:
        return "none (text search only)"
    emb.embed(["doctor check"])
    return f"{emb.name} (dim {emb.dim}) ok"


def cmd_doctor(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"url": shown_url(args)}
    healthy = True
    try:
        store = open_backend(url_of(args), vector_dim=None)
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
    report["sqlite-vec"] = "available" if (
        importlib.util.find_spec("sqlite_vec") and importlib.util.find_spec("pysqlite3")
    ) else "not installed (exact vector scan): pip install 'memori[sqlite-vec]'"
    report["embedder"] = _embedder_status(args)
    if report["embedder"].startswith("error"):
        healthy = False
    report["healthy"] = healthy
    if args.json:
        emit_json(report)
    else:
        key_values(report)
    return OK if healthy else UNHEALTHY


def cmd_migrate(args: argparse.Namespace) -> int:
    store = open_backend(url_of(args), vector_dim=None, migrate=True)
    try:
        store.setup()
    finally:
        store.close()
    print(f"{store.name} store at the current revision")
    return OK


def cmd_purge(args: argparse.Namespace) -> int:
    """Reclaim what deletes leave on disk (SQLite VACUUM; PostgreSQL VACUUM [FULL])."""
    store = open_backend(url_of(args), vector_dim=None)
    try:
        if not isinstance(store, SupportsAdminVacuum):
            raise CLIError(f"the {store.name} backend has no purge operation: see "
                           "docs/security.md for what it keeps and how to remove it", USAGE)
        store.admin_vacuum(full=args.full)
    finally:
        store.close()
    print(f"{store.name} store purged" + (" (full)" if args.full else ""))
    return OK
