"""Alembic environment: runs on the connection memori hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from memori.migrations.frozen.r0001_version_table import VERSION_TABLE

config = context.config
connection = config.attributes["connection"]
schema = config.attributes.get("schema")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    version_table_schema=schema,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)

with context.begin_transaction():
    context.run_migrations()
