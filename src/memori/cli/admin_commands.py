"""backends, migrate, purge, sweep."""

from __future__ import annotations

import argparse
import time

from memori.cli.common import url_of
from memori.cli.errors import OK, USAGE, CLIError
from memori.cli.output import emit_json, table
from memori.config import open_backend
from memori.core import SupportsAdminVacuum, get_plugins, sweep_expired


def cmd_backends(args: argparse.Namespace) -> int:
    """The backends that can be used now, then those an extra would bring."""
    plugins = get_plugins()
    rows = [
        {"name": s.name, "schemes": ", ".join(s.schemes) or "-",
         "installed": "yes" if s.is_installed() else "no",
         "install": None if s.is_installed() else s.install_command(),
         "description": s.description}
        for s in sorted(plugins.backends.values(), key=lambda spec: spec.name)
    ]
    installed = [r for r in rows if r["installed"] == "yes"]
    available = [r for r in rows if r["installed"] != "yes"]
    if args.json:
        emit_json({"backends": rows,
                   "installed": [r["name"] for r in installed],
                   "available": {r["name"]: r["install"] for r in available},
                   "plugins": plugins.plugin_names(),
                   "embedders": sorted(plugins.embedders),
                   "extractors": sorted(plugins.extractors),
                   "retrievers": sorted(plugins.retrievers),
                   "redactors": sorted(plugins.redactors)})
        return OK
    print("Installed backends:")
    table(installed, ["name", "schemes", "description"], max_width=70)
    if available:
        print("\nAvailable backends (their extra is not installed):")
        table(available, ["name", "schemes", "install"], max_width=70)
    return OK


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


def cmd_sweep(args: argparse.Namespace) -> int:
    """Delete the expired memories of every entity now (any process may run it)."""
    store = open_backend(url_of(args), vector_dim=None)
    try:
        store.setup()
        removed = sweep_expired(store, time.time())
    finally:
        store.close()
    if args.json:
        emit_json({"swept": removed})
    else:
        print(f"swept {removed} expired memor{'y' if removed == 1 else 'ies'}")
    return OK
