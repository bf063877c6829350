"""Start-up as a user meets it: import, construct, register, the first and second call.

Each run is a fresh Python process that imports ``openai`` first (the application's
own cost, reported apart), then times ``import memori``, ``Memori(url)`` with the
default (local) embedder, ``mem.llm.register(client)``, the first
``chat.completions.create`` through the registered client (the memory path's first
use: the embedder loads, the store opens) and a second one, against the loopback
OpenAI-compatible test server answering at once. Two kinds of run take turns:

- **cold**: a new ``MEMORI_HOME`` (no derived int8 model, as on a fresh machine, a
  new container or a new home) and a new database;
- **warm**: the same ``MEMORI_HOME`` and database again.

The bare call (same client, not registered) is timed in the same process after the
registered ones, so the "added" figure is the registered call minus the bare one.
Then each run waits until the int8 model serves (``int8 serves``: ms from the run's
start): a cold run's first call starts deriving it in a process of its own, which
would otherwise run on into the next runs and slow their start-up, where a user's first
call after installation has no other derivation running beside it.

``--pause S`` waits S seconds between ``register()`` and the first call, as an
application whose first model call comes a moment after its start (``register()``
starts loading the model in the background; by default the first call comes at once,
the worst case).

Run: ``python benchmarks/bench_startup.py [--runs 5] [--pause 0] [--output PATH]``.
Prints p50 / min / max per step and writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, machine_info, print_table, write_result

from memori.testing.openai_server import OpenAIServer

STEPS = ("import openai", "import memori", "Memori()", "register()", "first call",
         "second call", "bare call", "int8 serves")

CHILD = textwrap.dedent("""
    import json, sys, time
    clock = time.perf_counter
    t = {}
    began = start = clock()
    import openai
    t["import openai"] = clock() - start
    start = clock()
    import memori
    t["import memori"] = clock() - start
    url, base_url = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    bare = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    start = clock()
    mem = memori.Memori(url)
    t["Memori()"] = clock() - start
    start = clock()
    mem.llm.register(client)
    t["register()"] = clock() - start
    mem.attribution(entity_id="ana", process_id="coach")
    time.sleep(float(sys.argv[3]))  # --pause: the application's own start-up, or a user
    messages = [{"role": "user", "content": "What should I eat before my long run?"}]
    for step in ("first call", "second call"):
        start = clock()
        client.chat.completions.create(model="m", messages=messages)
        t[step] = clock() - start
    bare.chat.completions.create(model="m", messages=messages)  # its connection opened
    start = clock()
    bare.chat.completions.create(model="m", messages=messages)
    t["bare call"] = clock() - start
    # settled before the process ends: the model's derivation, started by a cold run's
    # first call in a process of its own, would otherwise run on into the next runs
    wait = getattr(mem.embedder, "wait_for_int8", None)
    if wait is not None and wait(timeout=600):
        t["int8 serves"] = clock() - began
    mem.close()
    print(json.dumps({k: v * 1000 for k, v in t.items()}))
""")


def one_run(home: Path, db: Path, base_url: str, pause: float = 0.0) -> dict[str, float]:
    env = {**os.environ, "MEMORI_HOME": str(home), "ORT_DISABLE_TELEMETRY": "1"}
    env.pop("MEMORI_EMBEDDER", None)
    # as installed: modules load from their cached bytecode (the first run writes it),
    # not compiled from source by every process
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", base_url,
                           str(pause)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"a start-up run failed:\n{done.stderr[-3000:]}")
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind (default 5)")
    parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="between register() and the first call (default 0: at once)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "startup.json")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    load = os.getloadavg()[0]
    with OpenAIServer() as server, tempfile.TemporaryDirectory(prefix="memori-bench-") as tmp:
        root = Path(tmp)
        warm_home, warm_db = root / "warm-home", root / "warm.db"
        one_run(warm_home, warm_db, server.base_url)  # the model cache and the bytecode
        for i in range(args.runs):  # the two kinds take turns: the machine is shared
            results["cold"].append(one_run(root / f"cold-home-{i}", root / f"cold-{i}.db",
                                           server.base_url, args.pause))
            results["warm"].append(one_run(warm_home, warm_db, server.base_url, args.pause))
    table: dict[str, dict[str, dict[str, float]]] = {
        kind: {step: summary([run[step] for run in runs if step in run]) for step in STEPS
               if any(step in run for run in runs)}
        for kind, runs in results.items()
    }
    rows: list[list[Any]] = []
    for step in STEPS:
        if step not in table["cold"] or step not in table["warm"]:
            continue
        cold, warm = table["cold"][step], table["warm"][step]
        rows.append([step, cold["p50_ms"], f"{cold['min_ms']}-{cold['max_ms']}",
                     warm["p50_ms"], f"{warm['min_ms']}-{warm['max_ms']}"])
    print(f"start-up, {args.runs} runs of each kind, first call {args.pause} s after "
          f"register(), load average {load:.2f} at start")
    print_table(["step", "cold p50 ms", "cold range", "warm p50 ms", "warm range"], rows)
    write_result(args.output, {
        "machine": machine_info(), "runs": args.runs, "pause_s": args.pause,
        "load_average_at_start": load,
        "load_average_at_end": os.getloadavg()[0], "steps_ms": table,
    })


if __name__ == "__main__":
    main()
