"""Nothing leaves the machine unless the user configured it (issue #16).

A whole default session (the LLM path through a real ``openai.OpenAI`` client against the
loopback stand-in, the local embedder, the offline extractor, ``flush``, ``recall``) and
the CLI (``stats``, ``doctor``) run in real subprocesses with a fresh ``HOME`` and
``MEMORI_HOME`` and no XDG directories, audited two ways:

1. a Python audit hook, installed by a wrapper before anything else is imported, records
   every ``socket.connect`` / ``sendto`` / ``sendmsg`` / ``getaddrinfo`` /
   ``gethostbyname`` / ``gethostbyaddr`` / ``getnameinfo`` (always runs);
2. ``strace -f`` records the ``connect`` / ``sendto`` / ``sendmsg`` / ``sendmmsg`` system
   calls of every thread, native code included: onnxruntime's telemetry resolves its
   collector's name through glibc, which Python's audit hooks never see. A name lookup
   shows as a datagram to port 53 (skipped, with the reason, where strace cannot run).

Every connection and lookup must target loopback (127.0.0.0/8, ::1, localhost) or a
local socket (AF_UNIX, AF_NETLINK); nothing may go to port 53; onnxruntime must load with
``ORT_DISABLE_TELEMETRY`` already set; and the fresh ``HOME`` must stay empty (no
``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` telemetry store).

A control run imports onnxruntime the same way in another fresh ``HOME`` without memori
(so without the switch) and shows that the checks catch it: the store appears and, under
strace, the lookup of the telemetry collector is seen (strace makes that lookup's system
calls fail, so even the control sends nothing). The session lingers after its work until
the control's lookup delay has passed, so the session was watched for as long as
onnxruntime takes to phone home.

Limit of the strace view: where glibc asks a resolver daemon over AF_UNIX (nscd, or
systemd-resolved through nss-resolve) instead of sending DNS itself, a native lookup
shows as a local connect, not as port 53. The control is immune (strace fails those
connects, so glibc falls back to DNS); on such a machine the session's native lookups
would be seen only through their effects (the telemetry store, the switch's value).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TELEMETRY_STORE = Path(".cache", "Microsoft")
#: How long the control may take to show onnxruntime's lookup (about 9 s here).
CONTROL_TIMEOUT = 30.0
#: The session keeps running this long past the control's lookup delay.
LINGER_MARGIN = 2.0

# Installed first, before anything is imported: records network events, and the switch's
# value when onnxruntime loads, as JSON lines in $MEMORI_AUDIT_LOG, then runs the script
# (or ``-m module``) given after it.
WRAPPER = textwrap.dedent('''
    import json, os, runpy, sys, threading, time

    _fd = os.open(os.environ["MEMORI_AUDIT_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _local = threading.local()
    _NET = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
            "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo"}

    def _plain(value):
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("latin-1")
        if isinstance(value, (tuple, list)):
            return [_plain(v) for v in value]
        return repr(value)

    def _write(record):
        _local.busy = True
        try:
            os.write(_fd, (json.dumps(record) + "\\n").encode())
        finally:
            _local.busy = False

    def _hook(event, args):
        if event not in _NET or getattr(_local, "busy", False):
            return
        record = {"event": event}
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            record["family"] = int(args[0].family)
            record["address"] = _plain(args[1])
        else:
            record["args"] = _plain(list(args))
        _write(record)

    class _WatchOnnxruntime:
        # first on sys.meta_path: sees onnxruntime load, however it is imported
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "onnxruntime":
                _write({"event": "import onnxruntime", "time": time.time(),
                        "ORT_DISABLE_TELEMETRY": os.environ.get("ORT_DISABLE_TELEMETRY")})
            return None

    sys.addaudithook(_hook)
    sys.meta_path.insert(0, _WatchOnnxruntime)
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
''')

# The default session: Memori() on a SQLite file (local embedder, offline extractor), the
# LLM path through the real openai client, flush, recall. Writes DONE when its work is
# done, then stays alive until RELEASE appears (onnxruntime's upload comes seconds later).
SESSION = textwrap.dedent('''
    import sys, time
    from pathlib import Path

    from openai import OpenAI

    from memori import Memori, Memory
    from memori.testing import OpenAIServer

    url, done, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with OpenAIServer() as server:
        client = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        mem = Memori(url)
        assert "onnxruntime" in sys.modules, "the default session did not load the local model"
        assert mem.embedder is not None and "MiniLM" in mem.embedder.name, mem.embedder
        mem.llm.register(client)
        mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "My goal is a sub-25 5K by June."}])
        mem.flush()
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "I train on Tuesdays and Saturdays."}])
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Remind me of my running goal."}])
        sent = str(server.last_request().body["messages"])
        assert "sub-25 5K" in sent, "the memory was not injected into the model request"
        mem.flush()
        hits = mem.recall("running goal 5K")
        assert any(isinstance(h.item, Memory) and "5K" in h.item.content for h in hits), hits
        mem.close()
    done.write_text("ok")
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
''')

# The control: onnxruntime loaded as the local embedder loads it, without memori (so
# without its switch), in its own fresh HOME; stays alive until STOP appears.
CONTROL = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path

    assert "ORT_DISABLE_TELEMETRY" not in os.environ
    import onnxruntime

    stop = Path(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    while not stop.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
''')

STRACE_CALLS = "connect,sendto,sendmsg,sendmmsg"
_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<ts>\d+\.\d+)\s+(?P<call>\w+)\((?P<args>.*)$")
_SOCKADDR = re.compile(r"\{sa_family=(?P<family>AF_\w+)(?P<body>[^{}]*)\}")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_ADDR = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6?, "([^"]+)"')
_LOCAL_FAMILIES = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_UNSPEC"}


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard
    if isinstance(host, str) and host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


# ------------------------------------------------------------------ the audit hook's view


def audit_records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def audit_violations(records: list[dict[str, Any]]) -> list[str]:
    """Every connection or lookup that targets something other than this machine."""
    import socket

    bad: list[str] = []
    for r in records:
        event = r["event"]
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            if r["family"] in (socket.AF_UNIX, getattr(socket, "AF_NETLINK", -1)):
                continue  # local sockets stay on this machine
            if r["family"] not in (socket.AF_INET, socket.AF_INET6):
                bad.append(f"{event} on a family-{r['family']} socket to {r['address']}")
                continue
            address = r["address"]
            if address is None:
                continue  # sendmsg on a connected socket: its connect was checked
            host, port = address[0], address[1]
            if port == 53 or not _is_loopback(host):
                bad.append(f"{event} to {address}")
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
            if not _is_loopback(r["args"][0]):
                bad.append(f"{event} of {r['args'][0]!r}")
        elif event == "socket.getnameinfo":
            sockaddr = r["args"][0]
            if not _is_loopback(sockaddr[0] if isinstance(sockaddr, list) else sockaddr):
                bad.append(f"{event} of {sockaddr!r}")
    return bad


def loopback_connects(records: list[dict[str, Any]]) -> int:
    return sum(
        1 for r in records
        if r["event"] == "socket.connect" and isinstance(r["address"], list)
        and _is_loopback(r["address"][0])
    )


# ----------------------------------------------------------------------- strace's view


@dataclasses.dataclass(frozen=True)
class SysCall:
    pid: int
    time: float
    call: str
    family: str
    host: str | None
    port: int | None
    line: str

    @property
    def is_lookup(self) -> bool:
        return self.port == 53

    @property
    def leaves_machine(self) -> bool:
        if self.family in _LOCAL_FAMILIES:
            return False
        return self.family not in ("AF_INET", "AF_INET6") or not _is_loopback(self.host)


def strace_calls(trace: Path) -> list[SysCall]:
    """The socket addresses of every traced call (unfinished lines carry the arguments)."""
    calls: list[SysCall] = []
    if not trace.exists():
        return calls
    for line in trace.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if m is None or m["call"] not in STRACE_CALLS.split(","):
            continue
        for sockaddr in _SOCKADDR.finditer(m["args"]):
            port = _PORT.search(sockaddr["body"])
            addr = _ADDR.search(sockaddr["body"])
            calls.append(SysCall(
                pid=int(m["pid"]), time=float(m["ts"]), call=m["call"],
                family=sockaddr["family"],
                host=(addr[1] or addr[2]) if addr else None,
                port=int(port[1]) if port else None,
                line=line[:200],
            ))
    return calls


def strace_violations(calls: list[SysCall]) -> list[str]:
    return [c.line for c in calls if c.is_lookup or c.leaves_machine]


def strace_problem() -> str | None:
    """Why strace cannot trace a child here, or None when it can."""
    if shutil.which("strace") is None:
        return "strace is not installed: only the audit-hook audit ran"
    try:
        probe = subprocess.run(
            ["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=connect",
             sys.executable, "-c", "pass"],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"strace cannot run here ({e}): only the audit-hook audit ran"
    if probe.returncode != 0:
        return f"strace cannot trace here ({probe.stderr.strip()[:200]}): only the audit hook ran"
    return None


# ------------------------------------------------------------------------- the runs


@dataclasses.dataclass
class Run:
    name: str
    home: Path
    audit_log: Path
    trace: Path | None
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        return audit_records(self.audit_log)

    @property
    def calls(self) -> list[SysCall]:
        return strace_calls(self.trace) if self.trace is not None else []

    def ort_loads(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == "import onnxruntime"]

    def describe(self) -> str:
        return f"{self.name}: rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@dataclasses.dataclass
class Audit:
    strace_skip: str | None
    session: Run
    cli: list[Run]
    control: Run
    control_lookup_delay: float | None
    session_watched: float | None  # seconds from the session's onnxruntime load to its exit

    @property
    def memori_runs(self) -> list[Run]:
        return [self.session, *self.cli]


# onnxruntime sends no telemetry when it sees one of these (checked in its binary): the
# audited runs drop them, so that they behave as on a user's machine even under CI
CI_MARKERS = frozenset({
    "CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
    "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR",
    "BITBUCKET_BUILD_NUMBER", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
})


def _child_env(home: Path, memori_home: Path, audit_log: Path) -> dict[str, str]:
    dropped = ("HOME", "XDG_", "MEMORI_", "ORT_", "OPENAI_", "HF_")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(dropped) and not k.lower().endswith("_proxy")
        and k not in CI_MARKERS
    }
    env.update(HOME=str(home), MEMORI_HOME=str(memori_home), MEMORI_AUDIT_LOG=str(audit_log))
    return env


def _command(run: Run, wrapper: Path, args: list[str], *, inject: bool = False) -> list[str]:
    command = [sys.executable, str(wrapper), *args]
    if run.trace is None:
        return command
    strace = ["strace", "-f", "-ttt", "-qq", "-o", str(run.trace),
              "-e", f"trace={STRACE_CALLS}", "-e", "signal=none"]
    if inject:  # the control's lookup is seen, then fails: not one packet leaves
        strace += ["-e", f"inject={STRACE_CALLS}:error=ENETUNREACH"]
    return [*strace, *command]


def _finish(run: Run, proc: subprocess.Popen[str], timeout: float) -> None:
    try:
        run.stdout, run.stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        run.stdout, run.stderr = proc.communicate()
    run.returncode = proc.returncode


def _wait_for(predicate: Any, timeout: float, proc: subprocess.Popen[str] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(predicate())
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    root = tmp_path_factory.mktemp("network-audit")
    skip = strace_problem()
    for name in ("home", "control-home", "memori-home"):
        (root / name).mkdir()
    wrapper, session_py, control_py = root / "audit.py", root / "session.py", root / "control.py"
    wrapper.write_text(WRAPPER)
    session_py.write_text(SESSION)
    control_py.write_text(CONTROL)
    done, release, stop = root / "done", root / "release", root / "stop"
    url = f"sqlite:///{root / 'memori.db'}"

    def new_run(name: str, home: Path) -> Run:
        trace = None if skip else root / f"{name}.strace"
        return Run(name, home, root / f"{name}.audit.jsonl", trace)

    session = new_run("session", root / "home")
    control = new_run("control", root / "control-home")
    procs: list[subprocess.Popen[str]] = []

    def start(run: Run, args: list[str], *, inject: bool = False) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            _command(run, wrapper, args, inject=inject), cwd=root, text=True,
            env=_child_env(run.home, root / "memori-home", run.audit_log),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    try:
        control_proc = start(
            control, [str(control_py), str(stop), str(CONTROL_TIMEOUT + 5)], inject=True)
        session_proc = start(session, [str(session_py), url, str(done), str(release)])

        # 1. the session does its work, then lingers; meanwhile the CLI runs
        if not _wait_for(done.exists, 50, session_proc):
            release.touch()
            _finish(session, session_proc, 10)
            pytest.fail(f"the session did not finish its work\n{session.describe()}")
        cli: list[Run] = []
        for command in ("stats", "doctor"):
            run = new_run(command, root / "home")
            proc = start(run, ["-m", "memori", command, "--url", url])
            _finish(run, proc, 40)
            cli.append(run)

        # 2. the control until onnxruntime's lookup shows (strace) or its store appears
        def control_phoned_home() -> bool:
            if control.trace is None:
                return (control.home / TELEMETRY_STORE).exists()
            return any(c.is_lookup for c in control.calls)

        _wait_for(control_phoned_home, CONTROL_TIMEOUT, control_proc)
        stop.touch()
        _finish(control, control_proc, 15)

        # 3. the session stays alive past the control's delay from load to lookup
        delay = None
        lookups = [c for c in control.calls if c.is_lookup]
        if lookups and control.ort_loads():
            delay = lookups[0].time - control.ort_loads()[0]["time"]
            loads = session.ort_loads()
            if loads:
                until = loads[0]["time"] + delay + LINGER_MARGIN
                time.sleep(max(0.0, until - time.time()))
        release.touch()
        _finish(session, session_proc, 15)
        loads = session.ort_loads()
        watched = time.time() - loads[0]["time"] if loads else None
        yield Audit(skip, session, cli, control, delay, watched)
    finally:
        release.touch()
        stop.touch()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# -------------------------------------------------------------------------- the tests


def test_the_default_session_and_the_cli_ran(audit: Audit) -> None:
    for run in audit.memori_runs:
        assert run.returncode == 0, run.describe()
    assert "healthy" in audit.cli[1].stdout, audit.cli[1].describe()
    # the session really loaded the local model, and the hook saw the client's traffic
    assert audit.session.ort_loads(), "onnxruntime never loaded in the session"
    assert loopback_connects(audit.session.records) >= 1, audit.session.records


def test_audit_hook_sees_only_loopback(audit: Audit) -> None:
    for run in audit.memori_runs:
        violations = audit_violations(run.records)
        assert not violations, f"{run.name} reached beyond this machine: {violations}"


def test_strace_sees_no_lookup_and_only_loopback(audit: Audit) -> None:
    if audit.strace_skip:
        pytest.skip(audit.strace_skip)
    session_calls = audit.session.calls
    assert any(c.family == "AF_INET" and c.host == "127.0.0.1" for c in session_calls), (
        "strace saw none of the session's connections to the loopback stand-in")
    for run in audit.memori_runs:
        violations = strace_violations(run.calls)
        assert not violations, f"{run.name} reached beyond this machine: {violations}"
    # the session was watched for at least as long as onnxruntime takes to phone home
    assert audit.control_lookup_delay is not None, "the control showed no lookup"
    assert audit.session_watched is not None
    assert audit.session_watched >= audit.control_lookup_delay, (
        "the session exited before onnxruntime's telemetry would have been sent")


def test_onnxruntime_loads_with_its_telemetry_switched_off(audit: Audit) -> None:
    for run in (audit.session, audit.cli[1]):  # doctor embeds a text
        loads = run.ort_loads()
        assert loads, f"onnxruntime never loaded in {run.name}"
        assert loads[0]["ORT_DISABLE_TELEMETRY"] == "1", run.name


def test_fresh_home_stays_empty(audit: Audit) -> None:
    home = audit.session.home
    assert not (home / TELEMETRY_STORE).exists(), "onnxruntime's telemetry store was created"
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"files written in the user's HOME: {written}"


def test_control_without_memori_phones_home_and_is_caught(audit: Audit) -> None:
    """Without memori's switch the same import is caught: the checks above can fail."""
    control = audit.control
    loads = control.ort_loads()
    assert loads and loads[0]["ORT_DISABLE_TELEMETRY"] is None, control.describe()
    assert (control.home / TELEMETRY_STORE).exists(), (
        "onnxruntime created no telemetry store without the switch in this environment")
    if audit.strace_skip:
        return
    lookups = [c for c in control.calls if c.is_lookup]
    assert lookups, f"strace saw no lookup in the control within {CONTROL_TIMEOUT} s"
    assert strace_violations(control.calls), "the strace check would not have failed"


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("", "1"), ("0", "0")])
def test_importing_memori_sets_the_switch_without_loading_onnxruntime(
    tmp_path: Path, preset: str | None, expected: str
) -> None:
    """The switch is set on import (a value the user chose is kept; empty counts as unset)."""
    env = _child_env(tmp_path, tmp_path / "memori-home", tmp_path / "unused.jsonl")
    if preset is not None:
        env["ORT_DISABLE_TELEMETRY"] = preset
    probe = (
        "import os, sys, memori; "
        "print(os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected, "False"]
