"""Chinese, Japanese and Korean text is indexed by characters and character pairs.

Text search now cuts every run of CJK characters into its characters and pairs of
neighbouring characters (``memori.core.cjk``), so words inside unspaced text are
found. No table or column changes; the rows already stored that hold CJK
characters are re-indexed:

- SQLite: the FTS5 row of each such turn and memory gets the text's tokens
  separated by spaces (the 0002 triggers keep copying new text as it is; the
  store rewrites the FTS row of CJK text it writes);
- PostgreSQL: the ``search_tsv`` of each such row is written again.

Downgrade gives those rows their 0002 / 0003 index back (the text as it is).
The rule is in ``memori.migrations.frozen.r0007_cjk``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from memori.migrations.frozen import r0003_tsvector, r0007_cjk
from memori.migrations.frozen.r0003_postgres import qualified

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("memori_turns", "memori_memories")
BATCH = 1000


def _schema() -> str | None:
    schema: str | None = op.get_context().config.attributes.get("schema")
    return schema


def _cjk_rows(name: str, key: str) -> list[list[tuple[object, ...]]]:
    """The ``(key..., content)`` rows of ``name`` whose text holds CJK characters, in pages
    (every row is read once, in key order)."""
    bind = op.get_bind()
    pages: list[list[tuple[object, ...]]] = []
    width = key.count(",") + 1
    after: tuple[object, ...] | None = None
    while True:
        where = "" if after is None else (
            f"WHERE ({key}) > ({', '.join(f':k{i}' for i in range(width))}) ")
        params = {f"k{i}": v for i, v in enumerate(after or ())}
        rows = [tuple(r) for r in bind.execute(sa.text(
            f"SELECT {key}, content FROM {name} {where}ORDER BY {key} LIMIT {BATCH}"
        ), params).all()]
        if not rows:
            return pages
        found = [r for r in rows if isinstance(r[-1], str) and r0007_cjk.has_cjk(r[-1])]
        if found:
            pages.append(found)
        after = rows[-1][:width]


def _sqlite(index: Callable[[str], str]) -> None:
    bind = op.get_bind()
    for table in TABLES:
        for page in _cjk_rows(table, "rowid"):
            bind.execute(
                sa.text(f"UPDATE {table}_fts SET content = :c WHERE rowid = :r"),
                [{"c": index(str(r[1])), "r": r[0]} for r in page],
            )


def _postgres(tsvector: Callable[[str, str], str]) -> None:
    bind = op.get_bind()
    schema = _schema()
    for table in TABLES:
        name = qualified(schema, table)
        for page in _cjk_rows(name, "entity_id, id"):
            bind.execute(
                sa.text(f"UPDATE {name} SET search_tsv = CAST(:v AS tsvector) "
                        "WHERE entity_id = :e AND id = :i"),
                [{"v": tsvector(str(r[2]), str(r[0])), "e": r[0], "i": r[1]} for r in page],
            )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite(r0007_cjk.sqlite_fts_content)
    elif dialect == "postgresql":
        _postgres(r0007_cjk.tsvector_text)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite(lambda content: content)
    elif dialect == "postgresql":
        _postgres(r0003_tsvector.tsvector_text)
