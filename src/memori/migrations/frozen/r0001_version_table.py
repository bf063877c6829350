"""Revision 0001's version table (frozen): where alembic records the applied revision.

The name every database migrated since revision 0001 carries; ``env.py`` hands it
to alembic. The SQL backend's ``memori.backends.sql.tables.VERSION_TABLE`` names the
same table (a test keeps them equal); renaming it would need a revision that moves
the row, never an edit here.
"""

from __future__ import annotations

VERSION_TABLE = "memori_alembic_version"
