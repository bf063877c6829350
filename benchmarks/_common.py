"""Helpers shared by the benchmarks: paths, machine description, percentiles, JSON output,
and an embedder wrapper that caches vectors on disk so reruns skip the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import sqlite3
import statistics
import sys
import threading
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memori.core import Embedder

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` by the nearest-rank method."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / mean of millisecond samples, rounded for reports."""
    return {
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(percentile(samples_ms, 0.95), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples_ms), 3),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def machine_info() -> dict[str, Any]:
    """What the figures ran on (no host names, no paths)."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": _cpu_model() or platform.processor() or platform.machine(),
        "sqlite": _store_sqlite_version(),
        "packages": _versions("onnxruntime", "sqlite-vec", "qdrant-client", "pymongo",
                              "secantusdb", "SQLAlchemy"),
    }
    mem = _total_memory_gb()
    if mem is not None:
        info["memory_gb"] = mem
    if hasattr(os, "getloadavg"):  # other work on the machine skews latencies
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _store_sqlite_version() -> str:
    """The SQLite library the SQLite store runs on (pysqlite3's when installed)."""
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        return sqlite3.sqlite_version
    return str(dbapi2.sqlite_version)


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _total_memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1024 * 1024), 1)
    except (OSError, ValueError):
        return None
    return None


def write_result(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned text table on stdout."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _vector_space(embedder: Embedder) -> str:
    """The cache's name for what made the vectors: the embedder's name, and for the
    local model's int8 arithmetic the derivation too (a new derivation's vectors are
    not the old ones')."""
    from memori.embedders import LocalEmbedder
    from memori.embedders.quantize import DERIVATION

    if isinstance(embedder, LocalEmbedder) and embedder.arithmetic == "int8":
        return f"{embedder.name}-{DERIVATION}"
    return embedder.name


class DiskCachedEmbedder:
    """Wraps an embedder; vectors are kept in a SQLite file keyed by model and text hash.

    Only benchmarks use it, so that iterating on retrieval does not re-run the
    model over the same corpus. Vectors are stored as float32, as the model returns them.
    """

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._space = _vector_space(inner)
        self.path = path or CACHE_DIR / "embeddings.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"{self._space}:{self.dim}:{digest}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        found: dict[str, list[float]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((k, array("f", v).tolist()) for k, v in rows)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True)
                                     if k not in found))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = self.inner.embed(missing)
            fresh = {
                self._key(t): array("f", v).tolist()
                for t, v in zip(missing, vectors, strict=True)
            }
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(k, array("f", v).tobytes()) for k, v in fresh.items()],
                )
                self._db.commit()
            found.update(fresh)
        return [found[k] for k in keys]

    def close(self) -> None:
        with self._lock:
            self._db.close()
