"""A throwaway MongoDB wire-protocol server for tests, started by the test run itself.

``MEMORI_TEST_MONGO_URL`` names a real MongoDB to use instead. Otherwise the
``secantusd-py`` server of the ``secantusdb`` package (a pip-installable server
speaking the MongoDB wire protocol) runs in memory on a free 127.0.0.1 port,
as a child process that :meth:`MongoServer.stop` shuts down. Test modules share
one server per process through :func:`shared_server`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

URL_ENV = "MEMORI_TEST_MONGO_URL"
SCRIPT = "secantusd-py"
START_TIMEOUT = 60.0


def find_server_script() -> str:
    """``secantusd-py`` on PATH, or next to this interpreter (a venv not on PATH)."""
    found = shutil.which(SCRIPT)
    if found:
        return found
    beside = Path(sys.executable).parent / SCRIPT
    if beside.exists():
        return str(beside)
    raise RuntimeError(
        f"no MongoDB for the tests: pip install secantusdb (for {SCRIPT}), "
        f"or set {URL_ENV} to a MongoDB server"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class MongoServer:
    """A server to test against: its ``url``, and the process when we started it."""

    url: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so stops it)."""
        return self.process is not None

    def log_tail(self, chars: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM the server we started (SIGKILL after 15 s) and remove its log."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> MongoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ping(url: str, timeout_ms: int = 500) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _launch(script: str, port: int, log_path: Path) -> MongoServer:
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                script,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                ":memory:",
                "--standalone",
                "--log-level",
                "WARNING",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = MongoServer(url, proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_tail()
            server.process = None
            raise RuntimeError(f"{SCRIPT} exited during start (code {proc.returncode}):\n{tail}")
        if _ping(url):
            return server
        time.sleep(0.1)
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"{SCRIPT} did not answer ping within {START_TIMEOUT:.0f} s:\n{tail}")


def start_mongo_server(*, attempts: int = 3) -> MongoServer:
    """``MEMORI_TEST_MONGO_URL`` if set, else a fresh in-memory server on a free port."""
    url = os.environ.get(URL_ENV)
    if url:
        return MongoServer(url)
    script = find_server_script()
    last: Exception | None = None
    for _ in range(attempts):  # a free port may be taken before the server binds it
        fd, name = tempfile.mkstemp(prefix="memori-mongo-", suffix=".log")
        os.close(fd)
        try:
            return _launch(script, free_port(), Path(name))
        except RuntimeError as e:
            last = e
            Path(name).unlink(missing_ok=True)
    raise RuntimeError(f"could not start {SCRIPT}: {last}")


_shared: MongoServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> MongoServer:
    """One server per process for every test module (stopped when the process exits)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = start_mongo_server()
            atexit.register(_shared.stop)
        return _shared
