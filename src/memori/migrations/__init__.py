"""The Alembic tree shared by the SQL backends (version table ``memori_alembic_version``).

Run it with :mod:`memori.backends.sql.migrate`, never with a stray ``alembic.ini``.
"""
