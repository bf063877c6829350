"""BM25 for PostgreSQL text search: ``ts_rank`` picks the candidates, BM25 orders them.

``ts_rank`` weighs how often a query word occurs in a row but not how rare the word
is, so a common word counts as much as a rare one (on LoCoMo text search found
42.6% of the evidence in its top 10 against SQLite's 56.2%). The store asks for a
pool of candidates by ``ts_rank``, counts in one statement how many of the entity's
rows hold each query word (the GIN index answers each count) and how many rows the
entity has, then orders the pool by the formula SQLite's text search uses (k1 1.2,
b 0.75, idf ln((N - n + 0.5) / (n + 0.5)) at least 1e-6, over the entity's own rows:
no tenant's writes move another's scores). Word counts per row come from the same
Python tokeniser that built the row's ``tsvector``; the average length is the pool's
(the entity's would need a scan of every row).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Integer, Select, String, Table, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from memori.backends.postgres.layout import TSQUERY
from memori.backends.postgres.text import words

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6
COUNT_CAP = 1_000_000
"""Rows of an entity counted at most (N of the formula): bounds the count's cost."""
WORD_COUNT_CAP = 5_000
"""Rows counted at most per query word: past it a word weighs as if held by this many
(exact below 10,000 rows per entity; above, only very common words are affected, and
the retriever drops stop words before it searches)."""

P_ENTITY = "memori_e"
P_WORD_QUERIES = "memori_word_queries"
P_COUNT_CAP = "memori_count_cap"
P_WORD_CAP = "memori_word_cap"


def statistics_statement(table: Table) -> Select[tuple[int, int, int]]:
    """``(i, n_i, N)`` per query word ``i``: the entity's rows holding the word, and its
    rows (capped); each word comes as a scoped ``tsquery`` (entity lexeme & word)."""
    entity = bindparam(P_ENTITY, type_=String)
    queries = func.unnest(
        cast(bindparam(P_WORD_QUERIES, type_=ARRAY(String)), ARRAY(TSQUERY))
    ).table_valued("query", with_ordinality="i").render_derived("memori_words")
    capped = (
        select(literal(1).label("one")).select_from(table).where(table.c.entity_id == entity)
        .limit(bindparam(P_COUNT_CAP, type_=Integer)).subquery("memori_rows")
    )
    rows = select(func.count()).select_from(capped).scalar_subquery()
    # A word held by half the rows or more gets the least idf whatever its count: stop
    # counting there, and at WORD_COUNT_CAP (each count visits the rows it counts).
    half = select(func.least(func.count() / 2 + 1, bindparam(P_WORD_CAP, type_=Integer))
                  ).select_from(capped).scalar_subquery()
    holding_rows = (
        select(literal(1).label("one")).select_from(table)
        .where(table.c.entity_id == entity, table.c.search_tsv.op("@@")(queries.c.query))
        .limit(half).correlate(queries).subquery("memori_holding")
    )
    holding = select(func.count()).select_from(holding_rows).scalar_subquery()
    return select(queries.c.i, holding.label("n"), rows.label("rows")).order_by(queries.c.i)


def scores(contents: Sequence[str], query_words: Sequence[str], holding: Sequence[int],
           rows: int) -> list[float]:
    """BM25 of each content for the query words (``holding[i]`` rows hold word ``i``)."""
    counted = [Counter(words(text)) for text in contents]
    lengths = [sum(c.values()) for c in counted]
    average = (sum(lengths) / len(lengths) if lengths else 0.0) or 1.0
    idf = {word: max(math.log((rows - n + 0.5) / (n + 0.5)), MIN_IDF)
           for word, n in zip(query_words, holding, strict=True)}
    out = []
    for counts, length in zip(counted, lengths, strict=True):
        norm = K1 * (1.0 - B + B * length / average)
        out.append(sum(weight * counts[word] * (K1 + 1.0) / (counts[word] + norm)
                       for word, weight in idf.items() if counts[word]))
    return out
