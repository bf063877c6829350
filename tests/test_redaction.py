"""No secret is ever shown: reprs, errors (chained causes included), logs and the CLI.

Servers are never needed: every "unreachable" case points at a closed port of
127.0.0.1 (bound, then released), so each test runs on a fresh machine.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.config import open_backend
from memori.core import MemoriError, StoreUnavailableError
from memori.core.redact import (
    RedactingFilter,
    is_secret_key,
    option_secrets,
    redact_options,
    redact_text,
    redact_url,
    scrub,
    secrets_in,
)

SECRET = "s3cr3t-PASS-4242"
ENCODED = "s3cr3t%2FPASS%404242"
"""A percent-encoded password; decoded it is ``DECODED``."""
DECODED = "s3cr3t/PASS@4242"
SPACED = "s3cr3t PASS 4242"
SECRETS = (SECRET, ENCODED, DECODED, SPACED)


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def assert_clean(text: str, *visible: str) -> None:
    """No form of the secret in ``text``; every non-secret part still there."""
    for secret in SECRETS:
        assert secret not in text, text
    for part in visible:
        assert part in text, (part, text)


def everything(error: BaseException) -> str:
    """All an error can show: str, repr and the traceback with its chained causes."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


@pytest.fixture
def port() -> int:
    return closed_port()


# the routine itself: every URL form

URL_FORMS = [
    (f"sqlite:///data/app.db?password={SECRET}", ["sqlite:///data/app.db", "password=***"]),
    (f"postgresql://alice:{SECRET}@db.example.com:5432/appdb",
     ["alice:***@db.example.com:5432/appdb"]),
    (f"postgresql://alice@db.example.com/appdb?password={SECRET}&sslmode=require",
     ["alice@db.example.com/appdb", "password=***", "sslmode=require"]),
    (f"postgresql+psycopg://alice@db.example.com/appdb?sslmode=require&PassWord={SECRET}",
     ["postgresql+psycopg://alice@db.example.com/appdb", "PassWord=***"]),
    (f"postgres://alice:{ENCODED}@db.example.com/appdb", ["alice:***@db.example.com/appdb"]),
    (f"postgresql://alice@db.example.com/appdb?sslpassword={SECRET}&passwd={SECRET}"
     f"&pwd={SECRET}", ["sslpassword=***", "passwd=***", "pwd=***"]),
    (f"mongodb://alice:{SECRET}@h1.example.com:27017,h2.example.com:27018/appdb"
     "?authSource=admin&replicaSet=rs0",
     ["alice:***@h1.example.com:27017,h2.example.com:27018/appdb", "authSource=admin"]),
    (f"mongodb+srv://alice:{ENCODED}@cluster0.example.net/appdb?authSource=admin"
     f"&authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:{SECRET}",
     ["alice:***@cluster0.example.net/appdb", "authSource=admin", "SERVICE_NAME:mongodb"]),
    (f"qdrant+http://qdrant.example.com:6333?api_key={SECRET}&timeout=5",
     ["qdrant+http://qdrant.example.com:6333", "api_key=***", "timeout=5"]),
    (f"qdrant+https://:{SECRET}@xyz.cloud.qdrant.io:443", [":***@xyz.cloud.qdrant.io:443"]),
    (f"qdrant://qdrant.example.com?API-KEY={SECRET}&apikey={SECRET}",
     ["qdrant.example.com", "API-KEY=***", "apikey=***"]),
    (f"qdrant+path:///var/lib/qdrant?collection_prefix=app_&token={SECRET}",
     ["/var/lib/qdrant", "collection_prefix=app_", "token=***"]),
    (f"qdrant+memory://shared?access_token={SECRET}&client_secret={SECRET}&secret={SECRET}",
     ["qdrant+memory://shared", "access_token=***", "client_secret=***", "secret=***"]),
    (f"memory://name?auth={SECRET}&authorization={SECRET}", ["memory://name", "auth=***"]),
]


@pytest.mark.parametrize(("url", "visible"), URL_FORMS, ids=lambda v: str(v)[:30])
def test_redact_url_masks_every_credential_of_every_url_form(url: str, visible: list[str]) -> None:
    shown = redact_url(url)
    assert_clean(shown, *visible)
    assert redact_text(f"cannot open {url} (refused)") == f"cannot open {shown} (refused)"


@pytest.mark.parametrize("dsn", [
    f"host=db.example.com dbname=appdb user=alice password={SECRET}",
    f"host=db.example.com password='{SPACED}' dbname=appdb user=alice",
    f'host=db.example.com password = "{SPACED}" dbname=appdb user=alice',
    f"host=db.example.com dbname=appdb user=alice PASSWORD={SECRET} sslmode=require",
])
def test_libpq_keyword_dsns_keep_host_db_and_user(dsn: str) -> None:
    assert_clean(redact_url(dsn), "host=db.example.com", "dbname=appdb", "user=alice")


def test_headers_json_and_keyword_forms_in_free_text() -> None:
    text = (f"Authorization: Bearer {SECRET}; x-api-key: {SECRET}; "
            f'{{"api_key": "{SECRET}", "host": "h"}} token={SECRET} authSource=admin')
    assert_clean(redact_text(text), "Authorization: Bearer ***", '"host": "h"', "authSource=admin")


def test_secret_names_are_case_insensitive_and_authsource_is_not_one() -> None:
    for name in ("PASSWORD", "Api_Key", "api-key", "X-Api-Key", "tlsCertificateKeyFilePassword",
                 "AWS_SESSION_TOKEN", "Authorization", "auth", "pwd", "sslpassword"):
        assert is_secret_key(name), name
    for name in ("authSource", "authMechanism", "user", "host", "dbname", "max_tokens"):
        assert not is_secret_key(name), name


def test_secrets_in_gives_raw_and_decoded_forms_for_scrubbing() -> None:
    found = secrets_in(f"postgres://alice:{ENCODED}@h/db?sslpassword={SECRET}")
    assert {ENCODED, DECODED, SECRET} <= set(found)
    assert_clean(scrub(f"driver said: bad {DECODED} and {SECRET}", found), "driver said")


def test_client_options_are_masked_nested_ones_too() -> None:
    options = {"api_key": SECRET, "timeout": 5, "url": f"http://u:{SECRET}@qdrant.example.com",
               "headers": {"Authorization": f"Bearer {SECRET}", "X-Trace": "on"}}
    shown = redact_options(options)
    assert_clean(repr(shown), "qdrant.example.com", "X-Trace", "'timeout': 5")
    assert SECRET in option_secrets(options)


def test_redacting_filter_masks_messages_args_and_tracebacks() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("memori.test_redaction")
    log.addHandler(handler)
    try:
        log.warning("opening %s", f"postgresql://alice:{SECRET}@db.example.com/appdb")
        try:
            raise RuntimeError(f"host=db.example.com password={SECRET}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    assert_clean("\n".join(records), "alice:***@db.example.com/appdb", "host=db.example.com")


# repr of every store, and of Memori where it opens offline

def test_sqlite_store_and_memori_reprs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}?password={SECRET}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pysqlite ignores the parameter, and says so
        with Memori(url, embedder="hash", extractor=None) as mem:
            assert_clean(repr(mem), "app.db", "password=***")
            assert_clean(repr(mem.store), "app.db")


def test_sqlite_engine_repr(tmp_path: Path) -> None:
    import sqlalchemy as sa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pysqlite ignores the parameter, and says so
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}?password={SECRET}")
    store = open_backend(engine, vector_dim=None)
    try:
        assert_clean(repr(store), "app.db")
    finally:
        store.close()
        engine.dispose()


@pytest.mark.parametrize("url", [
    f"postgresql://alice:{SECRET}@db.example.com:5432/appdb",
    f"postgresql://alice@db.example.com:5432/appdb?password={SECRET}",
    f"postgresql+psycopg://alice:{ENCODED}@db.example.com:5432/appdb",
    f"postgres://alice@db.example.com:5432/appdb?sslmode=disable&password={SECRET}",
])
def test_postgres_store_repr(url: str) -> None:
    store = open_backend(url, vector_dim=None)
    try:
        assert_clean(repr(store), "alice", "db.example.com", "appdb")
    finally:
        store.close()


def test_postgres_engine_repr() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"postgresql+psycopg://alice@db.example.com/appdb?password={SECRET}")
    store = open_backend(engine, vector_dim=None)
    try:
        assert_clean(repr(store), "alice@db.example.com/appdb")
    finally:
        store.close()
        engine.dispose()


@pytest.mark.parametrize("url", [
    f"mongodb://alice:{SECRET}@db.example.com:27017/appdb?authSource=admin",
    f"mongodb+srv://alice:{ENCODED}@cluster0.example.net/appdb?authSource=admin",
])
def test_mongo_store_repr(url: str) -> None:
    store = open_backend(url, vector_dim=None)
    try:
        assert_clean(repr(store), "alice", "appdb", "authSource=admin")
    finally:
        store.close()


@pytest.mark.parametrize(("url", "options"), [
    (f"qdrant+http://qdrant.example.com:6333?api_key={SECRET}", {}),
    (f"qdrant+https://:{SECRET}@qdrant.example.com:443", {}),
    ("qdrant+https://qdrant.example.com:443", {"api_key": SECRET}),
    ("qdrant://qdrant.example.com", {"headers": {"api-key": SECRET}}),
])
def test_qdrant_server_store_repr(url: str, options: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qdrant-client: an API key over plain http
        store = open_backend(url, vector_dim=None, **options)
    try:
        assert_clean(repr(store), "qdrant.example.com")
    finally:
        store.close()


def test_qdrant_client_object_repr() -> None:
    from qdrant_client import QdrantClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = QdrantClient(url="http://qdrant.example.com:6333", api_key=SECRET,
                              check_compatibility=False)
    store = open_backend(client, vector_dim=None)
    try:
        assert_clean(repr(store), "qdrant.example.com")
    finally:
        store.close()
        client.close()


@pytest.mark.parametrize("make_url", [
    lambda tmp: f"qdrant+path://{tmp / 'q'}", lambda tmp: "qdrant+memory://redaction",
    lambda tmp: "memory://redaction",
])
def test_local_and_in_memory_memori_reprs(tmp_path: Path, make_url: Callable[[Path], str]) -> None:
    with Memori(make_url(tmp_path), embedder="hash", extractor=None) as mem:
        assert_clean(repr(mem), "Memori(")


def test_a_secret_on_a_local_qdrant_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(MemoriError) as info:
        Memori(f"qdrant+path://{tmp_path / 'q'}?api_key={SECRET}", embedder="hash",
               extractor=None)
    assert_clean(everything(info.value), "api_key")


# errors: a server that cannot be reached (chained driver errors included)

def _pg_urls(port: int) -> list[str]:
    return [f"postgresql://alice:{SECRET}@127.0.0.1:{port}/appdb",
            f"postgresql://alice@127.0.0.1:{port}/appdb?password={SECRET}",
            f"postgresql+psycopg://alice:{ENCODED}@127.0.0.1:{port}/appdb",
            f"postgres://alice@127.0.0.1:{port}/appdb?sslmode=disable&password={SECRET}"]


def test_postgres_unreachable_errors(port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for url in _pg_urls(port):
        with pytest.raises(MemoriError) as info:
            Memori(url, embedder="hash", extractor=None)
        assert_clean(everything(info.value), "127.0.0.1", str(port))
        assert info.value.__cause__ is not None
    assert_clean(logs(caplog))


def test_postgres_unreachable_async_error(port: int) -> None:
    store = open_backend(_pg_urls(port)[1], vector_dim=None)
    try:
        with pytest.raises(MemoriError) as info:
            asyncio.run(store.asetup())  # type: ignore[attr-defined]
        assert_clean(everything(info.value), "127.0.0.1")
    finally:
        store.close()


def test_postgres_connect_args_password_is_scrubbed(port: int) -> None:
    url = f"postgresql://alice@127.0.0.1:{port}/appdb"
    store = open_backend(url, vector_dim=None, connect_args={"password": SECRET})
    try:
        assert_clean(repr(store), "alice")
        with pytest.raises(MemoriError) as info:
            store.setup()
        assert_clean(everything(info.value), "127.0.0.1")
    finally:
        store.close()


def test_libpq_keyword_dsn_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MemoriError) as info:
        Memori(f"host=127.0.0.1 dbname=appdb user=alice password='{SPACED}'", embedder="hash")
    assert_clean(everything(info.value), "host=127.0.0.1", "dbname=appdb", "user=alice")
    assert_clean(logs(caplog))


def test_mongo_unreachable_errors(port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    quick = {"client_options": {"serverSelectionTimeoutMS": 200}}
    for url in (f"mongodb://alice:{SECRET}@127.0.0.1:{port}/appdb?authSource=admin",
                f"mongodb://alice:{ENCODED}@127.0.0.1:{port}/appdb"):
        with pytest.raises(MemoriError) as info:
            Memori(url, embedder="hash", extractor=None, store_options=quick)
        assert_clean(everything(info.value), "127.0.0.1")
        assert info.value.__cause__ is not None
    store = open_backend(f"mongodb://alice:{SECRET}@127.0.0.1:{port}/appdb", vector_dim=None,
                         **quick)
    try:
        with pytest.raises(MemoriError) as info:
            asyncio.run(store.asetup())  # type: ignore[attr-defined]
        assert_clean(everything(info.value), "127.0.0.1")
    finally:
        store.close()
    assert_clean(logs(caplog))


@pytest.mark.parametrize(("url", "options"), [
    ("qdrant+http://127.0.0.1:{port}?api_key=" + SECRET, {}),
    ("qdrant+http://:" + SECRET + "@127.0.0.1:{port}", {}),
    ("qdrant+https://127.0.0.1:{port}", {"api_key": SECRET}),
])
def test_qdrant_unreachable_errors(url: str, options: dict[str, Any], port: int,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qdrant-client: an API key over plain http
        store = open_backend(url.format(port=port), vector_dim=None, **options)
        try:
            with pytest.raises(StoreUnavailableError) as info:
                store.setup()
            assert_clean(everything(info.value), "Qdrant")
            assert info.value.__cause__ is not None
            with pytest.raises(StoreUnavailableError) as ainfo:
                asyncio.run(store.asetup())  # type: ignore[attr-defined]
            assert_clean(everything(ainfo.value), "Qdrant")
        finally:
            store.close()
        with pytest.raises(MemoriError) as minfo:
            Memori(url.format(port=port), embedder="hash", extractor=None, store_options=options)
        assert_clean(everything(minfo.value), "Qdrant")
    assert_clean(logs(caplog))


def logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: message, arguments and traceback."""
    out = []
    for record in caplog.records:
        out.append(record.getMessage())
        if record.exc_info:
            out.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(out)


# the command line, as real subprocesses

def memori_cli(*runs: tuple[str, ...], cwd: Path) -> list[str]:
    """Run ``python -m memori`` once per argument tuple, side by side; stdout + stderr of each."""
    procs = [subprocess.Popen([sys.executable, "-m", "memori", *args, "--embedder", "hash"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
             for args in runs]
    return ["".join(p.communicate(timeout=120)) for p in procs]


@pytest.fixture
def cli_urls(port: int) -> list[tuple[str, list[str]]]:
    return [
        (f"postgresql://alice@127.0.0.1:{port}/appdb?password={SECRET}",
         ["alice@127.0.0.1", "appdb"]),
        (f"postgresql+psycopg://alice:{ENCODED}@127.0.0.1:{port}/appdb",
         ["alice:***@127.0.0.1", "appdb"]),
        (f"host=127.0.0.1 port={port} dbname=appdb user=alice password='{SPACED}'",
         ["host=127.0.0.1", "dbname=appdb", "user=alice"]),
        (f"mongodb://alice:{SECRET}@127.0.0.1:{port}/appdb?authSource=admin",
         ["alice:***@127.0.0.1", "appdb", "authSource=admin"]),
        (f"qdrant+http://127.0.0.1:{port}?api_key={SECRET}", ["127.0.0.1"]),
        (f"qdrant+https://:{SECRET}@127.0.0.1:{port}", ["127.0.0.1"]),
    ]


def test_doctor_never_shows_a_secret(cli_urls: list[tuple[str, list[str]]],
                                     tmp_path: Path) -> None:
    outputs = memori_cli(*[("doctor", url) for url, _ in cli_urls],
                         ("doctor", "--json", "--url", cli_urls[0][0]), cwd=tmp_path)
    for (_url, visible), out in zip(cli_urls, outputs, strict=False):
        assert_clean(out, *visible, "healthy")
    assert_clean(outputs[-1], '"healthy": false')


def test_stats_never_shows_a_secret(cli_urls: list[tuple[str, list[str]]],
                                    tmp_path: Path) -> None:
    outputs = memori_cli(*[("stats", url) for url, _ in cli_urls],
                         ("-v", "stats", "--url", cli_urls[0][0]), cwd=tmp_path)
    for out in outputs:
        assert_clean(out, "memori:")
