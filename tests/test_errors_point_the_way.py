"""The errors a user meets name what to do: the extra to install, the sqlite:/// URL to
write, the backends installed and those an extra would bring.

The missing-extra cases run for real in a subprocess on a base install: ``python -S``
with memori's sources and a view of the venv's site-packages that leaves out the
drivers of the extras (psycopg, greenlet, pymongo, qdrant-client, sqlite-vec, openai,
opentelemetry, mcp), so the import errors are the ones a user of ``pip install memori`` gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path
from typing import Any

import pytest

from memori.core import BackendNotFoundError, BackendSpec, MissingExtraError, hookimpl
from memori.core.registry import Plugins, load_dotted, missing_modules

REPO = Path(__file__).resolve().parents[1]

EXTRA_DRIVERS = ("psycopg", "greenlet", "pymongo", "bson", "gridfs", "qdrant_client",
                 "sqlite_vec", "pysqlite3", "openai", "opentelemetry", "mcp")
"""Top-level modules (and distributions) that only the extras install."""


def _site_view(root: Path, leave_out: tuple[str, ...]) -> Path:
    """A directory of symlinks to the venv's site-packages, less ``leave_out`` and .pth files."""
    site = root / "site-packages"
    site.mkdir()
    dirs = dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib"))
    for directory in dirs:
        for entry in directory.iterdir():
            low = entry.name.lower().replace("-", "_")
            if entry.suffix == ".pth" or low.startswith(("memori_jsonl", "_editable")):
                continue
            if low.startswith(leave_out) or (site / entry.name).exists():
                continue
            (site / entry.name).symlink_to(entry)
    return site


@pytest.fixture(scope="module")
def base_install(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``sys.path`` of ``pip install memori`` without any extra."""
    return [str(REPO / "src"), str(_site_view(tmp_path_factory.mktemp("base"), EXTRA_DRIVERS))]


@pytest.fixture(scope="module")
def without_greenlet(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Everything installed but greenlet (psycopg present: SQLAlchemy's asyncio case)."""
    return [str(REPO / "src"), str(_site_view(tmp_path_factory.mktemp("nogl"), ("greenlet",)))]


def _python(
    path: list[str], tmp_path: Path, code: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-c", code, *args],
        env={"PYTHONPATH": os.pathsep.join(path), "HOME": str(tmp_path),
             "MEMORI_HOME": str(tmp_path / "memori-home"),
             "PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )


OPEN = """
import sys
from memori import Memori
try:
    Memori(sys.argv[1], embedder="hash")
except Exception as e:
    print(type(e).__name__, e, sep="|")
"""

CLI = """
import sys
from memori.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _open_error(path: list[str], tmp_path: Path, url: str) -> tuple[str, str]:
    proc = _python(path, tmp_path, OPEN, url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name, _, message = proc.stdout.strip().splitlines()[-1].partition("|")
    return name, message


def _cli(path: list[str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _python(path, tmp_path, CLI, *args)


def test_the_base_install_really_lacks_the_drivers(base_install: list[str], tmp_path: Path) -> None:
    proc = _python(base_install, tmp_path, "import importlib.util as u, sys; "
                   "print([m for m in sys.argv[1:] if u.find_spec(m)])", *EXTRA_DRIVERS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_postgres_url_on_a_base_install_names_the_postgres_extra(
    base_install: list[str], tmp_path: Path
) -> None:
    name, message = _open_error(base_install, tmp_path, "postgresql+psycopg://u:pw@db.example/app")
    assert name == "MissingExtraError"
    assert message == ("the postgres backend (psycopg, greenlet not installed) needs an "
                       "optional dependency: pip install 'memori[postgres]'")


@pytest.mark.parametrize(("url", "extra", "missing"), [
    ("mongodb://db.example/app", "mongo", "pymongo"),
    ("qdrant+memory://", "qdrant", "qdrant_client"),
])
def test_every_backend_url_on_a_base_install_names_its_extra(
    base_install: list[str], tmp_path: Path, url: str, extra: str, missing: str
) -> None:
    name, message = _open_error(base_install, tmp_path, url)
    assert name == "MissingExtraError"
    assert message == (f"the {extra} backend ({missing} not installed) needs an optional "
                       f"dependency: pip install 'memori[{extra}]'")


RAISES = """
import sys
from memori import Memori
try:
    exec(sys.argv[1])
except Exception as e:
    print(type(e).__name__, e, sep="|")
"""


@pytest.mark.parametrize(("code", "message"), [
    ("Memori(sys.argv[2], embedder='hash').llm.register(object())",
     "the LLM interceptors needs an optional dependency: pip install 'memori[openai]'"),
    ("import os; os.environ['MEMORI_EXTRACTOR'] = 'llm:gpt-4o-mini'; "
     "Memori(sys.argv[2], embedder='hash')",
     "MEMORI_EXTRACTOR=llm:gpt-4o-mini needs an optional dependency: "
     "pip install 'memori[openai]'"),
    ("Memori(sys.argv[2], embedder='hash', store_options={'vector_search': 'sqlite-vec'})",
     "vector_search='sqlite-vec' needs an optional dependency: "
     "pip install 'memori[sqlite-vec]'"),
    ("import memori.mcp.server",
     "memori mcp (the MCP server) needs an optional dependency: pip install 'memori[mcp]'"),
], ids=["llm-interceptors", "llm-extractor", "sqlite-vec", "mcp"])
def test_a_component_on_a_base_install_names_its_extra(
    base_install: list[str], tmp_path: Path, code: str, message: str
) -> None:
    proc = _python(base_install, tmp_path, RAISES, code, f"sqlite:///{tmp_path / 'm.db'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"MissingExtraError|{message}"


def test_memori_mcp_on_a_base_install_names_the_mcp_extra(
    base_install: list[str], tmp_path: Path
) -> None:
    proc = _cli(base_install, tmp_path, "mcp", "--entity", "ana",
                "--url", f"sqlite:///{tmp_path / 'm.db'}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip() == ("memori: memori mcp (the MCP server) needs an optional "
                                   "dependency: pip install 'memori[mcp]'")


def test_psycopg_without_greenlet_names_the_postgres_extra(
    without_greenlet: list[str], tmp_path: Path
) -> None:
    name, message = _open_error(without_greenlet, tmp_path, "postgresql://u:pw@db.example/app")
    assert name == "MissingExtraError"
    assert message.endswith("(greenlet not installed) needs an optional dependency: "
                            "pip install 'memori[postgres]'")
    assert "pw" not in message


def test_sqlalchemys_own_greenlet_import_error_is_translated(
    without_greenlet: list[str], tmp_path: Path
) -> None:
    """SQLAlchemy raises its own ImportError (from greenlet's) when its asyncio layer is
    imported without greenlet; a loader that did not list greenlet still names the extra."""
    code = """
from memori.core.registry import load_dotted
try:
    load_dotted("sqlalchemy.ext.asyncio:create_async_engine", "postgres", "the postgres backend")
except Exception as e:
    cause = e.__cause__
    print(type(e).__name__, type(cause).__name__, "sqlalchemy[asyncio]" in str(cause), e, sep="|")
"""
    proc = _python(without_greenlet, tmp_path, code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name, cause, sqlalchemys_message, message = proc.stdout.strip().split("|")
    assert (name, cause, sqlalchemys_message) == ("MissingExtraError", "ImportError", "True")
    assert message == ("the postgres backend (greenlet not installed) needs an optional "
                       "dependency: pip install 'memori[postgres]'")


def test_backends_separates_installed_from_available_on_a_base_install(
    base_install: list[str], tmp_path: Path
) -> None:
    proc = _cli(base_install, tmp_path, "backends", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert {"sqlite", "memory"} <= set(got["installed"])
    assert not {"postgres", "mongo", "qdrant"} & set(got["installed"])
    assert got["available"] == {"mongo": "pip install 'memori[mongo]'",
                                "postgres": "pip install 'memori[postgres]'",
                                "qdrant": "pip install 'memori[qdrant]'"}
    text = _cli(base_install, tmp_path, "backends").stdout
    installed, _, available = text.partition("Available backends (their extra is not installed):")
    assert installed.startswith("Installed backends:")
    assert "sqlite" in installed and "postgres" not in installed
    assert "pip install 'memori[postgres]'" in available and "sqlite " not in available


def test_an_unknown_scheme_lists_installed_and_available_backends(
    base_install: list[str], tmp_path: Path
) -> None:
    name, message = _open_error(base_install, tmp_path, "redis://u:pw@cache.example/0")
    assert name == "BackendNotFoundError"
    assert message.startswith("no installed backend handles URLs of scheme 'redis' "
                              "(redis://u:***@cache.example/0); installed: memory, sqlite; ")
    assert message.endswith("available: mongo (pip install 'memori[mongo]'), "
                            "postgres (pip install 'memori[postgres]'), "
                            "qdrant (pip install 'memori[qdrant]')")


def test_doctor_on_a_base_install_names_the_extra_and_no_sqlite_advice(
    base_install: list[str], tmp_path: Path
) -> None:
    proc = _cli(base_install, tmp_path, "doctor", "--embedder", "hash", "--json",
                "postgresql://u:pw@db.example/app")
    assert proc.returncode == 4, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["backend"] == ("error: the postgres backend (psycopg, greenlet not installed) "
                                 "needs an optional dependency: pip install 'memori[postgres]'")
    assert "sqlite-vec" not in report
    assert report["pgvector"] == "unknown (the database was not reached)"


@pytest.mark.parametrize(("given", "meant"), [
    ("/srv/app/memori.db", "sqlite:////srv/app/memori.db"),
    ("file:///srv/app/memori.db", "sqlite:////srv/app/memori.db"),
    ("file://localhost/srv/app/memori.db", "sqlite:////srv/app/memori.db"),
    ("data/memori.db", "sqlite:///data/memori.db"),
])
def test_a_path_or_file_url_is_answered_with_the_sqlite_url(given: str, meant: str) -> None:
    from memori import Memori

    with pytest.raises(BackendNotFoundError) as caught:
        Memori(given, embedder="hash")
    assert str(caught.value).endswith(f"; for a SQLite file write {meant}")


def test_doctor_answers_a_file_url_with_the_sqlite_url(base_install: list[str],
                                                         tmp_path: Path) -> None:
    proc = _cli(base_install, tmp_path, "doctor", "--embedder", "hash", "--json",
                "file:///srv/app/memori.db")
    assert proc.returncode == 4
    report = json.loads(proc.stdout)
    assert report["backend"].endswith("; for a SQLite file write sqlite:////srv/app/memori.db")
    assert "sqlite-vec" not in report  # no backend was chosen: no backend's advice


class _NoSuchBackend:
    """A plugin whose backend's driver is not installed."""

    @hookimpl
    def memori_register_backends(self, register: Any) -> None:
        register(BackendSpec(
            name="nosuch", loader="memori_nosuch_driver.store:open_store", schemes=("nosuch",),
            extra="nosuch", requires=("memori_nosuch_driver",)))


def test_a_spec_whose_modules_are_missing_is_listed_as_available() -> None:
    plugins = Plugins(load_entry_points=False)
    plugins.add_plugin(_NoSuchBackend(), name="nosuch")
    assert plugins.installed_backends() == []
    assert plugins.available_backends() == {"nosuch": "pip install 'memori[nosuch]'"}
    with pytest.raises(MissingExtraError, match=r"^the nosuch backend \(memori_nosuch_driver "
                       r"not installed\) needs an optional dependency: "
                       r"pip install 'memori\[nosuch\]'$"):
        plugins.backends["nosuch"].load()


def test_a_missing_module_of_memori_itself_is_not_blamed_on_an_extra() -> None:
    with pytest.raises(ModuleNotFoundError) as caught:
        load_dotted("memori.no_such_module:thing", "postgres", "the postgres backend")
    assert not isinstance(caught.value, MissingExtraError)


def _json_cli(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "memori", *args, "--json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("embedder", ["hash", "default"])
def test_doctor_reports_the_dimension_stats_reports(tmp_path: Path, embedder: str) -> None:
    url = f"sqlite:///{tmp_path / 'memori.db'}"
    stats = _json_cli("stats", "--embedder", embedder, url)
    doctor = _json_cli("doctor", "--embedder", embedder, url)
    assert stats["vector_dim"] is not None
    assert doctor["stats.vector_dim"] == stats["vector_dim"]
    assert doctor["stats.vector_search"] == stats["vector_search"]
    assert "sqlite-vec" in doctor and "pgvector" not in doctor


def test_doctor_on_postgres_reports_pgvector_not_sqlite_vec(pg_url: str) -> None:
    # a database of its own: the shared one's public schema must stay free of memori
    # tables (other tests read it through search_path)
    from sqlalchemy import create_engine, make_url, text

    database = f"memori_doctor_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    stats = _json_cli("stats", "--embedder", "hash", url)
    doctor = _json_cli("doctor", "--embedder", "hash", url)
    assert doctor["healthy"] is True
    assert "sqlite-vec" not in doctor
    assert doctor["pgvector"] == str(stats["pgvector"]) and doctor["pgvector"][0].isdigit()
    assert doctor["stats.vector_dim"] == stats["vector_dim"] is not None


@pytest.fixture(scope="module")
def mongo_url() -> str:
    from memori.testing.mongo_server import URL_ENV, shared_server

    if not os.environ.get(URL_ENV):
        pytest.importorskip("secantus", reason=f"pip install secantusdb, or set {URL_ENV}")
    return shared_server().url


def test_doctor_on_mongo_gives_no_sqlite_advice(mongo_url: str) -> None:
    doctor = _json_cli("doctor", "--embedder", "hash", mongo_url)
    assert doctor["healthy"] is True
    assert "sqlite-vec" not in doctor
    assert doctor["vector search"] in ("$vectorSearch", "exact in-scope scan: this server "
                                       "offers no $vectorSearch (see docs/backends/mongo.md)")


def test_missing_modules_takes_dotted_names_of_absent_packages() -> None:
    assert missing_modules(("json", "memori_nosuch_driver", "memori_nosuch_driver.sub")) == [
        "memori_nosuch_driver", "memori_nosuch_driver.sub"]


def test_a_sqlite_file_in_a_missing_directory_is_refused_by_name(tmp_path: Path) -> None:
    """SQLite itself says only "unable to open database file", at the first write, while
    the write path would keep every turn waiting for a store that can never open."""
    from memori import Memori
    from memori.core import ConfigurationError

    missing = tmp_path / "no" / "such"
    with pytest.raises(ConfigurationError, match=r"its directory .*no/such.* does not exist"):
        Memori(f"sqlite:///{missing / 'memori.db'}")
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        Memori(f"sqlite:///{a_file / 'memori.db'}")
    mem = Memori(f"sqlite:///{tmp_path / 'memori.db'}")  # an existing directory: fine
    mem.remember("I like tea", entity_id="a")
    mem.close()
    uri = Memori(f"sqlite:///file:{tmp_path / 'uri.db'}?uri=true")  # SQLite reads URIs
    uri.close()
    assert not missing.exists()  # nothing was created on the way
