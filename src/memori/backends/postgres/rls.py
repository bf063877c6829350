"""Row-level security keyed on the entity: defence in depth under the store's own filters.

Revision 0003 creates one policy per table (inert until RLS is enabled). A store
opened with ``row_level_security=True`` enables and forces RLS on its tables, and
every transaction of a store whose tables have RLS on first sets, transaction
locally, the entity it works for. A query that forgot its entity filter then
still sees only that entity's rows; with no entity set it sees nothing.

Calls that cross entities on purpose (``admin_*``, ``outbox_*``) set
``memori.all_entities``. This guards against scoping bugs in code, not against an
attacker who can run SQL: run such tools under a separate role if that matters.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.sql.elements import TextClause

from memori.backends.postgres.layout import qualified, quote_ident

POLICY = "memori_entity_isolation"
ENTITY_SETTING = "memori.entity_id"
ALL_ENTITIES_SETTING = "memori.all_entities"
TABLES = ("memori_turns", "memori_memories", "memori_outbox")

_RULE = (
    f"(entity_id = current_setting('{ENTITY_SETTING}', true) "
    f"OR current_setting('{ALL_ENTITIES_SETTING}', true) = 'on')"
)


def create_policy_sql(schema: str | None, table: str) -> str:
    """``CREATE POLICY`` restricting reads and writes of ``table`` to the set entity."""
    return (
        f"CREATE POLICY {quote_ident(POLICY)} ON {qualified(schema, table)} "
        f"USING {_RULE} WITH CHECK {_RULE}"
    )


def drop_policy_sql(schema: str | None, table: str) -> str:
    return f"DROP POLICY IF EXISTS {quote_ident(POLICY)} ON {qualified(schema, table)}"


def enable_sql(schema: str | None, table: str) -> list[str]:
    """Enable RLS and force it on the table's owner too (superusers still bypass it)."""
    name = qualified(schema, table)
    return [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
    ]


def set_scope_statement() -> TextClause:
    """Sets, for the current transaction only, the entity (or all entities) to work for."""
    return text(
        f"SELECT set_config('{ENTITY_SETTING}', :memori_entity, true), "
        f"set_config('{ALL_ENTITIES_SETTING}', :memori_all, true)"
    ).bindparams(bindparam("memori_entity"), bindparam("memori_all"))


def scope_params(entity_id: str | None) -> dict[str, str]:
    """Parameters of :func:`set_scope_statement`: one entity, or all when None."""
    if entity_id is None:
        return {"memori_entity": "", "memori_all": "on"}
    return {"memori_entity": entity_id, "memori_all": "off"}


def rls_state_statement() -> TextClause:
    """``relrowsecurity`` of each of the store's tables (a schema-qualified name each)."""
    return text(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = coalesce(:schema, current_schema()) AND c.relname = ANY(:names)"
    )
