"""Ingest as a user meets it: memories from text, and with vectors supplied.

On a fresh SQLite file per mode, with the default local embedder (all-MiniLM-L6-v2,
int8 arithmetic, waited for so a cold cache's warm start does not flatter or hurt):

- ``remember``: ``mem.remember(text)`` once per text (embed, check near-duplicates,
  store: what an application calling it in a loop gets);
- ``remember_many``: ``mem.remember_many(texts)`` (one call; texts embedded in
  batches, each memory then stored as ``remember`` stores it);
- ``embed only``: ``embedder.embed(texts)`` in one call, nothing stored (the model's
  share of the two above);
- ``float32 batched embed``: the same with ``arithmetic="float32"``, whose batches
  of 32 may run together (int8 runs each text alone: its activations are scaled per
  run, so a batch would change a text's vector);
- ``put_memories (vectors given)``: the store's bulk write in batches of 1,000 with
  precomputed vectors (what ``bench_scale.py`` measures at larger sizes).

Texts are distinct synthetic sentences of 6-24 words, new for every mode (no
embedding cache hit). Run: ``python benchmarks/bench_ingest.py [--texts 1000]``.
Prints texts per second per mode and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, machine_info, print_table, write_result

from memori import Memori
from memori.core import Memory
from memori.embedders import LocalEmbedder

WORDS = (
    "garden", "tomato", "marathon", "recipe", "sister", "train", "Lyon", "budget", "piano",
    "doctor", "invoice", "holiday", "coffee", "meeting", "deadline", "allergy", "bicycle",
    "novel", "concert", "mortgage", "puppy", "passport", "dentist", "weekend",
    "spreadsheet", "birthday", "harbour", "violin", "lentil", "glacier",
)


def texts(n: int, seed: int) -> list[str]:
    """``n`` distinct sentences (the seed keeps each mode's texts its own)."""
    rng = random.Random(seed)
    return [f"Note {seed}-{i}: the user " + " ".join(rng.choice(WORDS)
                                                      for _ in range(rng.randint(6, 24)))
            for i in range(n)]


def rate(n: int, run: Callable[[], object]) -> dict[str, float]:
    began = time.perf_counter()
    run()
    seconds = time.perf_counter() - began
    return {"texts": n, "seconds": round(seconds, 3), "per_s": round(n / seconds, 1)}


def measure(n: int, workdir: Path) -> dict[str, dict[str, float]]:
    int8 = LocalEmbedder()
    int8.wait_for_int8(timeout=900)
    float32 = LocalEmbedder(arithmetic="float32")
    int8.embed(["warm up"])
    float32.embed(["warm up"])

    def fresh(name: str) -> Memori:
        mem = Memori(f"sqlite:///{workdir / name}.db", embedder=int8, extractor=None)
        mem.attribution(entity_id="bench", process_id="ingest")
        return mem

    out: dict[str, dict[str, float]] = {}
    one = fresh("remember")
    batch = texts(n, 1)
    out["remember"] = rate(n, lambda: [one.remember(t) for t in batch])
    one.close()

    many = fresh("remember_many")
    batch = texts(n, 2)
    out["remember_many"] = rate(n, lambda: many.remember_many(batch))
    assert len(many.list_memories(limit=1000)) == min(n, 1000)
    many.close()

    batch = texts(n, 3)
    out["embed only"] = rate(n, lambda: int8.embed(batch))
    batch = texts(n, 4)
    out["float32 batched embed"] = rate(n, lambda: float32.embed(batch))

    bulk = fresh("put_memories")
    batch = texts(n, 5)
    vectors = int8.embed(batch)
    memories = [Memory(entity_id="bench", process_id="ingest", content=t, kind="fact",
                       embedding=tuple(v)) for t, v in zip(batch, vectors, strict=True)]

    def put() -> None:
        for start in range(0, n, 1000):
            bulk.store.put_memories(memories[start:start + 1000])

    out["put_memories (vectors given)"] = rate(n, put)
    bulk.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "ingest.json")
    args = parser.parse_args(argv)
    before = machine_info()
    with tempfile.TemporaryDirectory(prefix="memori-ingest-") as tmp:
        modes = measure(args.texts, Path(tmp))
    result: dict[str, Any] = {"machine": before, "machine_after": machine_info(),
                              "texts": args.texts, "modes": modes}
    print_table(["mode", "texts", "seconds", "texts/s"],
                [[name, m["texts"], m["seconds"], m["per_s"]] for name, m in modes.items()])
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
