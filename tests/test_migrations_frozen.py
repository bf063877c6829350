"""Revisions are frozen: no revision, frozen helper or the alembic env imports live memori code.

A revision that imported today's tokeniser or layout would change what an old
revision does whenever that code changes. Every file under
``memori/migrations/versions`` and ``memori/migrations/frozen``, and
``memori/migrations/env.py`` (which runs every revision), may import only
the standard library, alembic, sqlalchemy, the frozen helpers and memori's error
classes; the tree is one linear chain with a single head, and every revision is
listed in docs/migrations.md.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

_SPEC = importlib.util.find_spec("memori")
assert _SPEC is not None and _SPEC.submodule_search_locations
MIGRATIONS = Path(next(iter(_SPEC.submodule_search_locations))) / "migrations"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "migrations.md"

THIRD_PARTY = frozenset({"alembic", "sqlalchemy"})
MEMORI_ALLOWED = (
    "memori.migrations.frozen",  # helpers frozen with their revision
    "memori.core.errors",  # the public error classes a revision raises (no schema in them)
)


def _frozen_files() -> list[Path]:
    files = sorted((MIGRATIONS / "versions").glob("*.py")) + sorted(
        (MIGRATIONS / "frozen").glob("*.py"))
    assert len(files) >= 6, f"no revisions found under {MIGRATIONS}"
    files.append(MIGRATIONS / "env.py")
    return files


def _allowed(module: str) -> bool:
    root = module.split(".")[0]
    if root == "memori":
        return any(module == a or module.startswith(a + ".") for a in MEMORI_ALLOWED)
    return root in THIRD_PARTY or root in sys.stdlib_module_names or root == "__future__"


def _violations(source: str) -> list[str]:
    """The imports of ``source`` a frozen file may not have (empty when it is clean)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(f"relative import at line {node.lineno} (write it absolute)")
                continue
            module = node.module or ""
            if not _allowed(module) and not all(
                _allowed(f"{module}.{a.name}") for a in node.names
            ):
                found.append(f"from {module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append(f"dynamic import at line {node.lineno} (import statically)")
    return found


def test_the_env_is_checked_like_the_revisions() -> None:
    assert MIGRATIONS / "env.py" in _frozen_files()


def test_the_frozen_version_table_is_the_one_the_backend_reads() -> None:
    """The backend asks the same table which revision a database is at."""
    from memori.backends.sql.tables import VERSION_TABLE as LIVE
    from memori.migrations.frozen.r0001_version_table import VERSION_TABLE

    assert VERSION_TABLE == LIVE


@pytest.mark.parametrize("path", _frozen_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_revision_files_import_no_live_memori_code(path: Path) -> None:
    assert _violations(path.read_text(encoding="utf-8")) == [], (
        f"{path.name}: a revision carries its own DDL, functions and constants "
        "(copy them into memori/migrations/frozen/rNNNN_*.py), never live code"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from memori.backends.postgres import rls",
        "import memori.backends.sql.types",
        "from memori.core.query_terms import bounded_terms",
        "from memori import backends",
        "from . import r0003_postgres",
        "import importlib\nmod = importlib.import_module('memori.backends.postgres.text')",
        "import numpy",
    ],
)
def test_the_check_catches_a_live_or_hidden_import(source: str) -> None:
    assert _violations(source)


def test_the_check_lets_frozen_and_library_imports_through() -> None:
    source = textwrap.dedent("""
        from __future__ import annotations
        import hashlib
        import sqlalchemy as sa
        from alembic import op
        from memori.migrations.frozen import r0004_sqlite_versions as v4
        from memori.migrations.frozen.r0003_postgres import qualified
        from memori.core.errors import ConfigurationError
    """)
    assert _violations(source) == []


def test_loading_every_revision_imports_no_backend_module() -> None:
    """Alembic loads each revision file; no ``memori.backends`` module may come with it."""
    code = textwrap.dedent(f"""
        import sys
        import memori
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        before = set(sys.modules)
        cfg = Config()
        cfg.set_main_option("script_location", {str(MIGRATIONS)!r})
        revisions = list(ScriptDirectory.from_config(cfg).walk_revisions())
        assert len(revisions) >= 5, revisions
        print("\\n".join(sorted(m for m in set(sys.modules) - before
                                if m.startswith("memori.backends"))))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"revisions imported backend code: {done.stdout}"


def _script() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def test_tree_is_one_linear_chain_with_a_single_head() -> None:
    script = _script()
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    for rev in revisions:
        assert not isinstance(rev.down_revision, (tuple, list)), f"{rev.revision} is a merge"
        assert rev.branch_labels in (None, set(), frozenset()), f"{rev.revision} has a branch"
        assert Path(rev.path).name.startswith(rev.revision + "_"), (
            f"{rev.path} should be named after its revision id")
    ids = [rev.revision for rev in reversed(revisions)]
    assert ids == sorted(ids), "revision ids grow along the chain"


def test_every_revision_is_listed_in_the_docs() -> None:
    if not DOCS.exists():
        pytest.skip("docs/ is not shipped with this copy")
    listed = set(re.findall(r"^\| `(\d{4})` \|", DOCS.read_text(encoding="utf-8"), re.M))
    revisions = {rev.revision for rev in _script().walk_revisions()}
    assert listed == revisions, "docs/migrations.md lists each revision once in its chain table"
