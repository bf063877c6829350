"""The PostgreSQL backend: SQLAlchemy 2 + psycopg 3, pgvector and tsvector search.

Open a store with :func:`memori.backends.postgres.store.open_store`; see
``docs/backends/postgres.md``.
"""
