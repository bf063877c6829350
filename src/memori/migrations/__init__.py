"""The Alembic tree shared by the SQL backends (version table ``memori_alembic_version``).

Run it with :mod:`memori.backends.sql.migrate`, never with a stray ``alembic.ini``.
Revisions are frozen: they import no live memori code, only their own helpers in
:mod:`memori.migrations.frozen` (see docs/migrations.md).
"""
