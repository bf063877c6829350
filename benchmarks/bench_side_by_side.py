"""Side by side: the same workload through memori and through other memory libraries.

For each library that can run here: ``--memories`` memories stored for one user, then
``--calls`` chat completions through the real ``openai`` SDK against a loopback
OpenAI-compatible stand-in (``memori.testing.OpenAIServer``, one process shared by every
library), each with memory interleaved with a bare call of the same client configuration.
Reported per library: bare p50/p95, with-memory p50/p95, added p50/p95 (with memory minus
bare, call by call), the load average and the versions.

- ``memori`` (this repository, always): its defaults (``Memori()`` on SQLite in a fresh
  ``MEMORI_HOME``, the local embedder, the offline extractor), the client registered
  as the README shows; each call's background work is settled, untimed, before the next
  call (as ``bench_interception.py`` does by default).
- ``memori-3`` (the MemoriLabs SDK, PyPI ``memori``; ``memorisdk`` is its older name):
  its local option, BYODB on a SQLite connection, the client registered as its README
  shows. Its embedder is native (fastembed) and fetches its model and tokenizer from a
  model hub on first use; where that fails the library is skipped with the error.
- ``mem0`` (PyPI ``mem0ai``): ``Memory.from_config`` with its local Qdrant (embedded,
  a path) and SQLite history, the OpenAI embedder and LLM pointed at the stand-in
  (384 dimensions), telemetry off; the flow of its README: ``search`` -> call with the
  memories in the system prompt -> ``add`` (which asks the LLM to extract facts; the
  stand-in answers that request with one fact as JSON).

The other libraries' distribution is also called ``memori``, so they never go into this
repository's venv: ``--other-venv PATH`` names a venv that has them, or ``--install``
creates one under ``benchmarks/.cache/`` (ignored by git) and pip-installs them there,
printing each command. Each library runs in its own subprocess; one that is not
installed, or cannot run without the network or a download, is skipped with the reason.

Run: ``python benchmarks/bench_side_by_side.py [--memories 1000] [--calls 50]
[--warmup 5] [--libraries memori,memori-3,mem0] [--other-venv PATH | --install]``.
Prints a table and writes ``benchmarks/results/side_by_side.json``.

The worker half of this file (``--worker NAME``) runs under the other venv's Python, so
it imports nothing from this repository at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workload import corpus, query

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_VENV = BENCH_DIR / ".cache" / "side-by-side-venv"
LIBRARIES = ("memori", "memori-3", "mem0")
PIP_NAMES = {"memori-3": "memori", "mem0": "mem0ai"}
"""What ``--install`` pip-installs for each other library (into the other venv)."""
MODEL = "gpt-4o-mini"
USER, PERSONA = "bench-user", "assistant"
DIMS = 384

SERVER_CODE = r"""
import json, re, sys
from memori.testing import OpenAIServer, Reply

ASKED = re.compile(r"my (\w+) (\w+)\? \(message (\d+)\)")

def respond(request):
    # mem0's fact extraction asks for a JSON object: answer with one fact from the
    # latest question; every other chat request gets the stand-in's default answer
    body = request.json
    if (body.get("response_format") or {}).get("type") != "json_object":
        return None
    text = json.dumps(body.get("messages", []))
    found = ASKED.findall(text)
    topic, word, n = found[-1] if found else ("day", "plans", "0")
    fact = f"User asked what they said about their {topic} {word} (message {n})"
    return Reply(text=json.dumps({"memory": [{"text": fact}]}))

server = OpenAIServer(embedding_dim=int(sys.argv[1])).start()
server.set_responder(respond)
print(server.base_url, flush=True)
sys.stdin.read()
server.stop()
"""


def nearest_rank(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2),
            "p95": round(nearest_rank(values, 0.95), 2)}


class Skip(Exception):
    """The library cannot run here; the message says why."""


# --------------------------------------------------------------------------- workers


def interleave(calls: int, warmup: int, bare: Any, with_memory: Any,
               after: Any = None) -> dict[str, list[float]]:
    """Time ``bare(i)`` and ``with_memory(i)`` alternately (order flipped every call);
    ``after()`` runs untimed after each call (settling background work)."""
    times: dict[str, list[float]] = {"bare": [], "memory": []}
    for i in range(warmup + calls):
        order = [("bare", bare), ("memory", with_memory)]
        if i % 2:
            order.reverse()
        for label, call in order:
            began = time.perf_counter()
            call(i)
            if i >= warmup:
                times[label].append((time.perf_counter() - began) * 1000)
            if after is not None:
                after()
    return times


def ask(client: Any, messages: list[dict[str, str]]) -> str:
    response = client.chat.completions.create(model=MODEL, messages=messages)
    return response.choices[0].message.content or ""


def versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def run_memori(base_url: str, memories: int, calls: int, warmup: int,
               workdir: Path) -> dict[str, Any]:
    """This repository's memori with its defaults, the client registered."""
    os.environ["MEMORI_HOME"] = str(workdir / "home")
    import openai

    from memori import Memori

    mem = Memori()
    began = time.perf_counter()
    mem.attribution(entity_id=USER, process_id=PERSONA)
    stored = len(mem.remember_many(corpus(memories)))
    populate_s = time.perf_counter() - began
    bare = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    client = mem.llm.register(openai.OpenAI(base_url=base_url, api_key="bench",
                                            max_retries=0))
    mem.attribution(entity_id=USER, process_id=PERSONA)

    def plain(i: int) -> None:
        ask(bare, [{"role": "user", "content": query(i)}])

    def remembered(i: int) -> None:
        ask(client, [{"role": "user", "content": query(i)}])

    times = interleave(calls, warmup, plain, remembered, after=mem.flush)
    embedder = mem.embedder.name if mem.embedder is not None else None
    mem.close()
    return {"times": times, "populate_s": round(populate_s, 2), "stored": stored,
            "config": {"store": "SQLite (Memori() default, fresh MEMORI_HOME)",
                       "embedder": embedder,
                       "flow": "mem.llm.register(client); client.chat.completions.create",
                       "settled": "mem.flush() after each call, untimed",
                       "populate": "mem.remember_many(texts)"},
            "versions": versions("memori", "openai", "onnxruntime")}


def run_memori3(base_url: str, memories: int, calls: int, warmup: int,
                workdir: Path) -> dict[str, Any]:
    """The MemoriLabs SDK (PyPI ``memori`` 3.x) in BYODB mode on SQLite."""
    import sqlite3

    try:
        import openai

        from memori import Memori
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    from importlib.metadata import version

    if not version("memori").startswith("3."):
        raise Skip(f"the memori found is {version('memori')}, not the MemoriLabs 3.x SDK")
    db = workdir / "memori3.sqlite"
    mem = Memori(conn=lambda: sqlite3.connect(db, check_same_thread=False))
    mem.config.storage.build()
    try:  # its embedder fetches its ONNX Runtime and model on first use
        mem.embed_texts(["probe"])
    except Exception as e:
        raise Skip("its embedder could not load (the native fastembed embedder downloads "
                   "ONNX Runtime and the Qdrant/all-MiniLM-L6-v2-onnx model and tokenizer "
                   f"on first use): {type(e).__name__}: {e}") from e
    texts = corpus(memories)
    began = time.perf_counter()
    driver = mem.config.storage.driver
    entity = driver.entity.create(USER)
    for start in range(0, len(texts), 500):
        chunk = texts[start:start + 500]
        driver.entity_fact.create(entity, chunk, mem.embed_texts(chunk))
    populate_s = time.perf_counter() - began
    bare = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    mem.llm.register(client)
    mem.attribution(entity_id=USER, process_id=PERSONA)

    def plain(i: int) -> None:
        ask(bare, [{"role": "user", "content": query(i)}])

    def remembered(i: int) -> None:
        ask(client, [{"role": "user", "content": query(i)}])

    def settle() -> None:
        augmentation = getattr(mem, "augmentation", None)
        wait = getattr(augmentation, "wait", None)
        if callable(wait):
            wait()

    times = interleave(calls, warmup, plain, remembered, after=settle)
    mem.close()
    return {"times": times, "populate_s": round(populate_s, 2), "stored": memories,
            "config": {"store": "BYODB, sqlite3 connection factory",
                       "embedder": mem.config.embeddings.model,
                       "flow": "Memori(conn=...).llm.register(client); attribution(...)",
                       "populate": "storage driver entity_fact.create with its embeddings"},
            "versions": versions("memori", "openai")}


def run_mem0(base_url: str, memories: int, calls: int, warmup: int,
             workdir: Path) -> dict[str, Any]:
    """mem0 (PyPI ``mem0ai``): local Qdrant + SQLite history, OpenAI providers at the
    stand-in; search -> call -> add as its README writes it."""
    os.environ["MEM0_TELEMETRY"] = "false"
    os.environ["MEM0_DIR"] = str(workdir / "mem0")
    try:
        import openai
        from mem0 import Memory
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    config = {
        "vector_store": {"provider": "qdrant",
                         "config": {"path": str(workdir / "qdrant"),
                                    "collection_name": "bench",
                                    "embedding_model_dims": DIMS, "on_disk": True}},
        "embedder": {"provider": "openai",
                     "config": {"model": "text-embedding-3-small", "api_key": "bench",
                                "openai_base_url": base_url, "embedding_dims": DIMS}},
        "llm": {"provider": "openai",
                "config": {"model": MODEL, "api_key": "bench",
                           "openai_base_url": base_url}},
        "history_db_path": str(workdir / "mem0-history.db"),
    }
    memory = Memory.from_config(config)
    began = time.perf_counter()
    for text in corpus(memories):
        memory.add(text, user_id=USER, infer=False)
    populate_s = time.perf_counter() - began
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    parts: dict[str, list[float]] = {"search": [], "call": [], "add": []}
    found: list[int] = []

    def plain(i: int) -> None:
        ask(client, [{"role": "user", "content": query(i)}])

    def remembered(i: int) -> None:  # the README's chat_with_memories
        message = query(i)
        t0 = time.perf_counter()
        relevant = memory.search(query=message, filters={"user_id": USER}, top_k=3)
        memories_str = "\n".join(f"- {entry['memory']}" for entry in relevant["results"])
        system_prompt = ("You are a helpful AI. Answer the question based on query and "
                         f"memories.\nUser Memories:\n{memories_str}")
        messages = [{"role": "system", "content": system_prompt},
                    {"role": "user", "content": message}]
        t1 = time.perf_counter()
        answer = ask(client, messages)
        t2 = time.perf_counter()
        messages.append({"role": "assistant", "content": answer})
        memory.add(messages, user_id=USER)
        t3 = time.perf_counter()
        if i >= warmup:
            parts["search"].append((t1 - t0) * 1000)
            parts["call"].append((t2 - t1) * 1000)
            parts["add"].append((t3 - t2) * 1000)
            found.append(len(relevant["results"]))

    times = interleave(calls, warmup, plain, remembered)
    total = len(memory.get_all(filters={"user_id": USER}, top_k=100_000)["results"])
    return {"times": times, "populate_s": round(populate_s, 2), "stored": memories,
            "stored_after": total,
            "parts_ms": {k: summarise(v) for k, v in parts.items()},
            "search_results_mean": round(statistics.fmean(found), 2) if found else 0,
            "config": {"store": "Qdrant local (embedded, on a path) + SQLite history",
                       "embedder": f"openai provider at the stand-in, {DIMS} dimensions",
                       "llm": "openai provider at the stand-in (fact extraction on add)",
                       "flow": "search(top_k=3) -> create() with memories in the system "
                               "prompt -> add(messages) (infer=True)",
                       "populate": "Memory.add(text, infer=False) per memory"},
            "versions": versions("mem0ai", "openai", "qdrant-client")}


WORKERS = {"memori": run_memori, "memori-3": run_memori3, "mem0": run_mem0}


def worker(args: argparse.Namespace) -> int:
    """Run one library and print ``RESULT <json>`` (or a skip) on stdout."""
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        try:
            out = WORKERS[args.worker](args.base_url, args.memories, args.calls,
                                       args.warmup, Path(tmp))
            times = out.pop("times")
            added = [m - b for m, b in zip(times["memory"], times["bare"], strict=True)]
            out.update({"bare_ms": summarise(times["bare"]),
                        "memory_ms": summarise(times["memory"]),
                        "added_ms": summarise(added)})
        except Skip as e:
            out = {"skipped": str(e)}
        except Exception as e:  # a library failing is reported, not a crash of the run
            traceback.print_exc()
            out = {"skipped": f"failed while running: {type(e).__name__}: {e}"}
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["python"] = sys.version.split()[0]
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------- driver


def install_venv(path: Path, libraries: Sequence[str]) -> Path:
    """A venv at ``path`` with the other libraries pip-installed; returns its python."""
    python = path / "bin" / "python"
    if not python.exists():
        command = [sys.executable, "-m", "venv", str(path)]
        print("+", " ".join(command), file=sys.stderr)
        subprocess.run(command, check=True)
    packages = ["openai", *(PIP_NAMES[name] for name in libraries if name in PIP_NAMES)]
    command = [str(python), "-m", "pip", "install", "--quiet", *packages]
    print("+", " ".join(command), file=sys.stderr)
    subprocess.run(command, check=False)
    return python


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(DIMS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise RuntimeError("the OpenAI stand-in did not start")
    return proc, base_url


def run_worker(python: str, name: str, base_url: str, args: argparse.Namespace,
               timeout: float) -> dict[str, Any]:
    command = [python, str(Path(__file__).resolve()), "--worker", name,
               "--base-url", base_url, "--memories", str(args.memories),
               "--calls", str(args.calls), "--warmup", str(args.warmup)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMORI_"))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return {"skipped": f"no result within {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            if "skipped" in result and done.stderr.strip():  # shown, not stored
                print("\n".join(done.stderr.strip().splitlines()[-3:]), file=sys.stderr)
            return result
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return {"skipped": f"the worker exited {done.returncode} without a result: {tail}"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--other-venv", type=Path, default=None,
                        help="a venv whose python has the other libraries")
    parser.add_argument("--install", action="store_true",
                        help=f"create (or reuse) a venv under benchmarks/.cache/ "
                             f"({DEFAULT_VENV.name}) and pip-install the other libraries")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds allowed for each library")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    from _common import RESULTS_DIR, machine_info, print_table, write_result

    output = args.output or RESULTS_DIR / "side_by_side.json"
    libraries = [name.strip() for name in args.libraries.split(",") if name.strip()]
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries: {', '.join(sorted(unknown))}")
    others = [name for name in libraries if name != "memori"]
    other_python: str | None = None
    if args.other_venv is not None:
        # absolute(), not resolve(): a venv's python is a symlink out of the venv
        other_python = str(args.other_venv.absolute() / "bin" / "python")
    elif args.install and others:
        other_python = str(install_venv(DEFAULT_VENV, others))
    load_before = [round(x, 2) for x in os.getloadavg()]
    proc, base_url = start_server()
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in libraries:
            if name == "memori":
                python = sys.executable
            elif other_python is None:
                results[name] = {"skipped": "not run: give --other-venv PATH (a venv with "
                                            f"{PIP_NAMES[name]}) or --install"}
                print(f"{name}: SKIP {results[name]['skipped']}", file=sys.stderr)
                continue
            elif not Path(other_python).exists():
                results[name] = {"skipped": f"no python in the other venv ({other_python})"}
                continue
            else:
                python = other_python
            print(f"{name}: running ({args.memories} memories, {args.calls} calls)...",
                  file=sys.stderr)
            results[name] = run_worker(python, name, base_url, args, args.timeout)
            if "skipped" in results[name]:
                print(f"{name}: SKIP {results[name]['skipped']}", file=sys.stderr)
            else:
                print(f"{name}: added p50 {results[name]['added_ms']['p50']} ms",
                      file=sys.stderr)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)

    ran = {name: r for name, r in results.items() if "skipped" not in r}
    print_table(
        ["library", "version", "bare p50", "bare p95", "memory p50", "memory p95",
         "added p50", "added p95", "load avg"],
        [[name, next(iter(r["versions"].values()), "?"), r["bare_ms"]["p50"],
          r["bare_ms"]["p95"], r["memory_ms"]["p50"], r["memory_ms"]["p95"],
          r["added_ms"]["p50"], r["added_ms"]["p95"],
          " ".join(str(x) for x in r["load_average"])]
         for name, r in ran.items()])
    print("(milliseconds per call; added = with memory minus bare, call by call)")
    for name, r in results.items():
        if "skipped" in r:
            print(f"skipped {name}: {r['skipped']}")
    info = machine_info()
    info["load_average_before"] = load_before
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_result(output, {
        "benchmark": "side_by_side",
        "description": "the same workload (memories stored for one user, then chat "
                       "completions through the openai SDK, interleaved with bare calls) "
                       "through memori and other memory libraries",
        "machine": info,
        "server": "memori.testing.OpenAIServer in a separate process on 127.0.0.1 "
                  "(answers at once; embeddings are hashed bags of words)",
        "memories": args.memories,
        "calls": args.calls,
        "warmup": args.warmup,
        "results": results,
    })
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
