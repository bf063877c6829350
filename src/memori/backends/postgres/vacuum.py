"""What a delete leaves behind on PostgreSQL, and the VACUUM that reclaims it.

A DELETE (``forget`` included) only marks rows dead: their bytes stay in the heap,
TOAST and index pages until VACUUM reclaims them, and they also live on in the WAL,
in replicas and in backups, which only the operator can expire. ``VACUUM`` makes
the space of dead rows reusable (their bytes are overwritten as it is reused);
``VACUUM FULL`` rewrites each table and its indexes into new files, so the old
pages are gone at once, at the price of an exclusive lock while it runs.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from memori.backends.postgres.layout import Layout, qualified


def table_names(layout: Layout) -> list[str]:
    """memori's tables that hold an entity's data, schema-qualified and quoted."""
    return [qualified(layout.schema, t.name)
            for t in (layout.turns, layout.memories, layout.outbox)]


def vacuum(engine: Engine, layout: Layout, *, full: bool = False) -> list[str]:
    """Run ``VACUUM`` (``VACUUM FULL``) on each of memori's tables, outside any
    transaction (VACUUM cannot run in one); returns the tables vacuumed."""
    command = "VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"
    names = table_names(layout)
    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        for name in names:
            auto.exec_driver_sql(f"{command} {name}")
    return names
