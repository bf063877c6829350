"""A throwaway PostgreSQL with pgvector for tests and benchmarks, started without root.

``MEMORI_TEST_POSTGRES_URL`` names an existing server (it must have pgvector);
otherwise the PostgreSQL 16 + pgvector binaries bundled by the ``pgserver`` package
run a fresh cluster in a temporary directory, listening on a Unix socket only (no TCP
port, so it never collides with a server already on the machine). PostgreSQL refuses
to run as root: under root the cluster runs as an unprivileged account (``nobody``,
or ``MEMORI_TEST_POSTGRES_OS_USER``) and nothing on the system is changed.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

URL_ENV = "MEMORI_TEST_POSTGRES_URL"
OS_USER_ENV = "MEMORI_TEST_POSTGRES_OS_USER"

FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
"""Settings for tests: durability traded for speed (the data is thrown away)."""


def bundled_bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL shipped inside the ``pgserver`` wheel."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no PostgreSQL for the tests: pip install pgserver, "
            f"or set {URL_ENV} to a server with pgvector"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class PostgresServer:
    """A running server: ``url`` (SQLAlchemy form, no password) and how to stop it."""

    url: str
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    launch: Callable[[], tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]] | None = (
        field(default=None, repr=False))
    """Starts the server process and its watchdog again (bundled servers)."""

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so stops it)."""
        return self.process is not None

    def stop(self) -> None:
        """Fast shutdown of a server we started, then remove its directory."""
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
            if self.watchdog.stdin is not None:
                self.watchdog.stdin.close()
            self.watchdog = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(2)  # SIGINT: fast shutdown
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def halt(self) -> None:
        """Stop the server process (fast shutdown) but keep its data: :meth:`resume` it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            self.process.wait(timeout=30)

    def resume(self) -> None:
        """Start a halted server again on the same data and socket."""
        if self.launch is None or self.data_dir is None:
            raise RuntimeError("only a bundled server this object started can resume")
        if self.watchdog is not None:  # it watches the old process: a new one watches the new
            self.watchdog.kill()
            self.watchdog.wait()
            if self.watchdog.stdin is not None:
                self.watchdog.stdin.close()
        self.process, self.watchdog = self.launch()
        bin_dir = bundled_bin_dir()
        _wait_ready(bin_dir, self.data_dir, self.process, self.data_dir / "postgres.log")

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_as() -> tuple[int, int] | None:
    """The (uid, gid) to run PostgreSQL as, or None to run as ourselves (non-root)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(os.environ.get(OS_USER_ENV, "nobody"))
    return entry.pw_uid, entry.pw_gid


_WATCHDOG = (
    'read _ignored; kill -INT "$1" 2>/dev/null; '
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; rm -rf "$2"'
)
"""Reads its stdin until EOF, then stops the server and removes its directory. EOF comes
when the test process ends, however it ends (the pipe closes with the process), so no
server outlives it; ``stop()`` kills the watchdog first and does the same itself."""


def _start_watchdog(
    pid: int, root: Path, user_kw: Mapping[str, int]
) -> subprocess.Popen[bytes]:
    watchdog: subprocess.Popen[bytes] = subprocess.Popen(
        ["/bin/sh", "-c", _WATCHDOG, "memori-pg-watchdog", str(pid), str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, **user_kw,  # type: ignore[call-overload]
    )
    return watchdog


def _wait_ready(bin_dir: Path, socket_dir: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited during start:\n{log.read_text()[-2000:]}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-q", "-h", str(socket_dir), "-U", "postgres"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"PostgreSQL did not start in 60 s:\n{log.read_text()[-2000:]}")


def _can_execute(program: Path, user_kw: Mapping[str, int]) -> bool:
    """Whether the account PostgreSQL runs as can reach ``program`` (a checkout under a
    private directory, e.g. one made by ``mktemp -d``, hides the venv from it)."""
    probe: subprocess.CompletedProcess[bytes] = subprocess.run(
        ["/bin/sh", "-c", 'test -x "$1"', "probe", str(program)],
        check=False, **user_kw,  # type: ignore[call-overload]
    )
    return probe.returncode == 0


def _private_copy(bin_dir: Path, root: Path, owner: tuple[int, int]) -> Path:
    """Copy the bundled installation into the server's own directory, owned by the
    server's account so the watchdog can remove it with the rest."""
    install = bin_dir.parent  # .../site-packages/pgserver/pginstall
    site = root / "site"  # the binaries find their libraries at $ORIGIN/../../../pgserver.libs
    shutil.copytree(install, site / "pgserver" / "pginstall", symlinks=True)
    libs = install.parent.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / "pgserver.libs", symlinks=True)
    for path in (site, *site.rglob("*")):
        os.chown(path, *owner, follow_symlinks=False)
    return site / "pgserver" / "pginstall" / "bin"


def start_bundled(
    settings: Mapping[str, str] = FAST_SETTINGS, *, parent: str | None = None
) -> PostgresServer:
    """initdb a fresh cluster in a temporary directory and start it on a Unix socket."""
    bin_dir = bundled_bin_dir()
    run_as = _run_as()
    root = Path(tempfile.mkdtemp(prefix="memori-pg-", dir=parent))
    data = root / "data"
    log = root / "postgres.log"
    try:
        data.mkdir()
        log.touch()
        user_kw: dict[str, int] = {}
        if run_as is not None:
            user_kw = {"user": run_as[0], "group": run_as[1]}
            if not _can_execute(bin_dir / "initdb", user_kw):
                bin_dir = _private_copy(bin_dir, root, run_as)
            for p in (root, data, log):
                os.chown(p, *run_as)
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=root,
            **user_kw,  # type: ignore[call-overload]
        )
        options: list[str] = []
        for key, value in {
            "listen_addresses": "",
            "unix_socket_directories": str(root),
            **settings,
        }.items():
            options += ["-c", f"{key}={value}"]

        def launch() -> subprocess.Popen[bytes]:
            with log.open("ab") as out:
                started: subprocess.Popen[bytes] = subprocess.Popen(
                    [str(bin_dir / "postgres"), "-D", str(data), *options],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=root,
                    start_new_session=True,
                    **user_kw,  # type: ignore[call-overload]
                )
            return started

        def launch_watched() -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
            started = launch()
            return started, _start_watchdog(started.pid, root, user_kw)

        proc, watchdog = launch_watched()
        _wait_ready(bin_dir, root, proc, log)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    url = f"postgresql+psycopg://postgres@/postgres?host={root}"
    return PostgresServer(url=url, data_dir=root, process=proc, watchdog=watchdog,
                          launch=launch_watched)


def start_server(settings: Mapping[str, str] = FAST_SETTINGS) -> PostgresServer:
    """The server named by ``MEMORI_TEST_POSTGRES_URL``, else a fresh bundled one."""
    existing = os.environ.get(URL_ENV)
    if existing:
        if existing.startswith(("postgresql://", "postgres://")):
            existing = "postgresql+psycopg://" + existing.split("://", 1)[1]
        return PostgresServer(url=existing)
    return start_bundled(settings)


@contextlib.contextmanager
def postgres_server(settings: Mapping[str, str] = FAST_SETTINGS) -> Iterator[str]:
    """Context manager yielding the URL of a server, stopped on exit when we started it."""
    server = start_server(settings)
    try:
        yield server.url
    finally:
        server.stop()


_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> PostgresServer:
    """One server per process for every test module (stopped when the process exits)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = start_server()
            atexit.register(_shared.stop)
        return _shared
