"""The embedders: local MiniLM (pinned by hash), hashing, OpenAI-compatible, and resolution."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from memori.core import ConfigurationError, DimensionMismatchError, MissingExtraError
from memori.embedders import (
    HashEmbedder,
    LocalEmbedder,
    ModelFileError,
    ModelIntegrityError,
    OpenAIEmbedder,
    default_embedder,
    model_files,
    resolve_embedder,
)
from memori.embedders.model_files import MODEL_FILE, TOKENIZER_FILE


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


# ---------------------------------------------------------------- local model


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.load()
    assert embedder.wait_for_int8(timeout=600)  # a cold cache is filled in the background
    return embedder


def test_local_embedder_gives_unit_vectors_of_384(local: LocalEmbedder) -> None:
    vectors = local.embed(["I like pasta", "", "x" * 5000])
    assert local.name == "all-MiniLM-L6-v2-int8-dynamic"
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(norm(v) - 1.0) < 1e-5 for v in vectors)
    assert local.embed([]) == []


def test_local_paraphrases_score_higher_than_unrelated_texts(local: LocalEmbedder) -> None:
    goal, question, pasta = local.embed(
        ["I want to run a 5K in under 25 minutes", "What is my running goal?", "I like pasta"]
    )
    assert cosine(goal, question) > cosine(goal, pasta) + 0.2
    assert cosine(goal, question) > cosine(question, pasta) + 0.2
    pairs = [
        ("My daughter's name is Emma", "What is my child called?", "The stock market fell today"),
        ("I am allergic to peanuts", "Which foods should I avoid?", "Paris is in France"),
        ("We moved to Berlin last year", "Where do I live now?", "Bake the cake for 40 minutes"),
    ]
    for fact, query, unrelated in pairs:
        f, q, u = local.embed([fact, query, unrelated])
        assert cosine(f, q) > cosine(f, u), (fact, query, unrelated)


def test_local_batch_matches_single_embeddings_in_order(local: LocalEmbedder) -> None:
    texts = [f"memory number {i} about {'long ' * (i % 7)}topics" for i in range(40)]
    fresh = LocalEmbedder(cache_size=0, batch_size=8)
    batch = fresh.embed(texts)
    for i in (0, 13, 39):
        single = fresh.embed([texts[i]])[0]
        assert cosine(batch[i], single) > 0.9999
    assert cosine(batch[0], batch[1]) < 0.9999  # different texts, different vectors
    assert cosine(batch[0], local.embed([texts[0]])[0]) > 0.9999


def test_local_cache_returns_copies(local: LocalEmbedder) -> None:
    first = local.embed(["cache me"])[0]
    first[0] = 42.0
    again = local.embed(["cache me"])[0]
    assert again[0] != 42.0
    assert abs(norm(again) - 1.0) < 1e-5


def test_local_cache_is_bounded_and_not_filled_by_bulk_batches(local: LocalEmbedder) -> None:
    embedder = LocalEmbedder(cache_size=2)
    embedder._runtime = local._runtime  # share the loaded model
    for text in ("one", "two", "three"):
        embedder.embed([text])
    assert list(embedder._cache) == ["two", "three"]
    embedder.embed([f"bulk {i}" for i in range(20)])
    embedder.embed(["long " * 1000])
    assert list(embedder._cache) == ["two", "three"]


def test_local_lazy_load_is_thread_safe() -> None:
    embedder = LocalEmbedder(warm_start=False)
    texts = [f"concurrent text {i % 5}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    runtime = embedder._runtime
    assert runtime is not None
    for text, vector in zip(texts, results, strict=True):
        assert cosine(vector, results[texts.index(text)]) > 0.9999
    assert embedder._runtime is runtime


async def test_local_aembed_matches_embed_and_answers_cache_hits_inline(
    local: LocalEmbedder,
) -> None:
    texts = ["async query about marathons", "and another one"]
    vectors = await local.aembed(texts)
    assert vectors == local.embed(texts)
    assert await local.aembed(texts[:1]) == vectors[:1]


def test_local_rejects_non_string_inputs(local: LocalEmbedder) -> None:
    with pytest.raises(TypeError):
        local.embed("not a list")
    with pytest.raises(TypeError):
        local.embed([b"bytes"])  # type: ignore[list-item]


# ---------------------------------------------------------------- int8 arithmetic

SENTENCES = [
    "I want to run a 5K in under 25 minutes",
    "What do you remember about my running morning? (message 3)",
    "Melanie: I went camping with my kids last weekend at the lake.",
    "hi",
    "The user prefers spicy vegetarian food and cycles to the office every morning.",
]


@pytest.fixture(scope="module")
def float32() -> LocalEmbedder:
    embedder = LocalEmbedder(arithmetic="float32", cache_size=0)
    embedder.load()
    return embedder


def test_int8_and_float32_are_named_apart_and_agree_closely(
    local: LocalEmbedder, float32: LocalEmbedder
) -> None:
    assert (local.arithmetic, float32.arithmetic) == ("int8", "float32")
    assert float32.name == "all-MiniLM-L6-v2-int8"
    assert local.name != float32.name
    fast, exact = local.embed(SENTENCES), float32.embed(SENTENCES)
    similarities = [cosine(a, b) for a, b in zip(fast, exact, strict=True)]
    assert min(similarities) > 0.98, similarities
    assert max(similarities) < 0.99999  # the products really ran in int8
    assert all(abs(norm(v) - 1.0) < 1e-5 for v in fast)


@pytest.mark.parametrize("arithmetic", ["int8", "float32"])
def test_the_slow_skip_layer_norm_fusion_is_left_out(
    arithmetic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: LocalEmbedder,
) -> None:
    """onnxruntime's fused SkipLayerNormalization is ten times slower per token than the
    Add and LayerNormalization it replaces (1.32, x86-64): the graph that runs has none."""
    import onnx
    import onnxruntime

    real = onnxruntime.InferenceSession
    saved: list[Path] = []

    def saving(model: Any, sess_options: Any = None, **kwargs: Any) -> Any:
        path = tmp_path / f"optimized-{len(saved)}.onnx"
        sess_options.optimized_model_filepath = str(path)
        saved.append(path)
        return real(model, sess_options=sess_options, **kwargs)

    assert local.wait_for_int8()  # derived and cached: the load below only reads it
    monkeypatch.setattr(onnxruntime, "InferenceSession", saving)
    embedder = LocalEmbedder(arithmetic=arithmetic, cache_size=0, warm_start=False)  # type: ignore[arg-type]
    embedder.load()
    ops = {node.op_type for node in onnx.load(str(saved[-1]), load_external_data=False).graph.node}
    assert "LayerNormalization" in ops
    assert "SkipLayerNormalization" not in ops


def test_float32_batches_match_single_runs(float32: LocalEmbedder) -> None:
    batch = LocalEmbedder(arithmetic="float32", cache_size=0, batch_size=8)
    batch._runtime = float32._runtime
    for text, vector in zip(SENTENCES, batch.embed(SENTENCES), strict=True):
        assert cosine(vector, float32.embed([text])[0]) > 0.9999


def test_int8_model_is_cached_with_its_digest_and_rederived_when_damaged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = LocalEmbedder(cache_dir=tmp_path, warm_start=False)
    expected = first.embed(SENTENCES[:2])
    models = sorted(tmp_path.glob("*.onnx"))
    digests = sorted(tmp_path.glob("*.sha256"))
    assert len(models) == 1 and len(digests) == 1
    assert MODEL_FILE.sha256[:16] in models[0].name
    assert model_files.sha256_file(models[0]) == digests[0].read_text()
    stamp = models[0].stat().st_mtime_ns

    assert LocalEmbedder(cache_dir=tmp_path).embed(SENTENCES[:2]) == expected
    assert models[0].stat().st_mtime_ns == stamp  # read, not derived again

    with models[0].open("r+b") as f:  # damage the cached model
        f.seek(1000)
        f.write(b"\x00" * 16)
    with caplog.at_level(logging.WARNING, logger="memori.embedders"):
        assert LocalEmbedder(cache_dir=tmp_path, warm_start=False).embed(
            SENTENCES[:2]) == expected
    assert "does not match its sha256" in caplog.text
    assert model_files.sha256_file(models[0]) == digests[0].read_text()


def test_int8_without_a_writable_cache_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    unwritable = LocalEmbedder(cache_dir=blocker / "models")
    assert len(unwritable.embed(["x"])[0]) == 384
    assert unwritable.wait_for_int8(timeout=600)  # derived in a thread, each load
    home = tmp_path / "home"
    monkeypatch.setenv("MEMORI_HOME", str(home))
    uncached = LocalEmbedder(cache_dir=False)
    assert len(uncached.embed(["y"])[0]) == 384 and uncached.wait_for_int8(timeout=600)
    assert not home.exists()  # no cache: nothing written
    default = LocalEmbedder()
    assert len(default.embed(["z"])[0]) == 384 and default.wait_for_int8(timeout=600)
    assert len(list((home / "cache" / "models").glob("*.onnx"))) == 1  # the default place


def test_int8_needs_onnx_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    with pytest.raises(ConfigurationError, match="pip install onnx"):
        LocalEmbedder(cache_dir=tmp_path, warm_start=False).load()
    monkeypatch.setitem(sys.modules, "onnx", None)  # a warm start says so at load too
    with pytest.raises(ConfigurationError, match="pip install onnx"):
        LocalEmbedder(cache_dir=tmp_path).load()
    assert len(LocalEmbedder(arithmetic="float32").embed(["fine"])[0]) == 384


def test_unknown_arithmetic_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'int8' or 'float32'"):
        LocalEmbedder(arithmetic="int4")  # type: ignore[arg-type]


# ---------------------------------------------------------------- hash pinning


def _tampered_copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    with target.open("r+b") as f:
        f.seek(target.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    return target


def test_installed_files_have_the_pinned_hashes() -> None:
    for pinned in (MODEL_FILE, TOKENIZER_FILE):
        path = pinned.locate()
        assert path.stat().st_size == pinned.size
        assert model_files.sha256_file(path) == pinned.sha256


def test_tampered_model_file_is_refused(tmp_path: Path) -> None:
    bad = _tampered_copy(MODEL_FILE.locate(), tmp_path / "model.onnx")
    embedder = LocalEmbedder(model_path=bad)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        embedder.embed(["hello"])
    assert embedder._runtime is None


def test_tampered_tokenizer_file_is_refused(tmp_path: Path) -> None:
    bad = _tampered_copy(TOKENIZER_FILE.locate(), tmp_path / "tokenizer.json")
    with pytest.raises(ModelIntegrityError, match="embedding tokenizer"):
        LocalEmbedder(tokenizer_path=bad).load()


def test_untampered_copy_loads(tmp_path: Path) -> None:
    copy = tmp_path / "tokenizer.json"
    shutil.copyfile(TOKENIZER_FILE.locate(), copy)
    embedder = LocalEmbedder(tokenizer_path=copy)
    assert len(embedder.embed(["fine"])[0]) == 384


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read"):
        LocalEmbedder(model_path=tmp_path / "absent.onnx").load()
    missing = model_files.PinnedFile("no-such-dist-memori", "1.0", "x/y.onnx", "0" * 64, 1)
    with pytest.raises(ModelFileError, match=r"pip install 'no-such-dist-memori==1\.0'"):
        missing.locate()


# ---------------------------------------------------------------- hash embedder


def test_hash_embedder_vectors_are_unit_and_sized() -> None:
    embedder = HashEmbedder()
    assert (embedder.name, embedder.dim) == ("hash-64", 64)
    for vector in embedder.embed(["Hello world", "", "!!!", "a b c d e f g"]):
        assert len(vector) == 64
        assert abs(norm(vector) - 1.0) < 1e-9
    assert HashEmbedder(128, char_ngrams=3).name == "hash-128-c3"


def test_hash_embedder_texts_sharing_words_are_similar() -> None:
    embedder = HashEmbedder(256)
    a, b, c = embedder.embed(
        ["my running goal is a fast 5k", "what is my running goal", "pasta with tomato sauce"]
    )
    assert cosine(a, b) > 0.4
    assert cosine(a, b) > cosine(a, c) + 0.3
    assert embedder.embed(["Running GOAL"]) == embedder.embed(["running goal"])


def test_hash_embedder_char_ngrams_relate_word_forms() -> None:
    words_only, with_grams = HashEmbedder(256), HashEmbedder(256, char_ngrams=3)
    run, running = words_only.embed(["runner"]), words_only.embed(["running"])
    assert cosine(run[0], running[0]) < 0.5
    run, running = with_grams.embed(["runner"]), with_grams.embed(["running"])
    assert cosine(run[0], running[0]) > 0.2  # 3 of 6-7 trigrams shared


def test_hash_embedder_is_deterministic_across_processes() -> None:
    code = (
        "import json; from memori.embedders.hashing import HashEmbedder;"
        "print(json.dumps(HashEmbedder(32, char_ngrams=3).embed(['Deterministic text, über'])))"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1
    here = HashEmbedder(32, char_ngrams=3).embed(["Deterministic text, über"])
    assert json.loads(outputs.pop()) == here


def test_hash_embedder_rejects_bad_dimensions() -> None:
    for bad in (0, 1, -5):
        with pytest.raises(ConfigurationError):
            HashEmbedder(bad)


# ---------------------------------------------------------------- OpenAI-compatible


class _EmbeddingsServer:
    """A tiny /v1/embeddings server on 127.0.0.1: unnormalised vectors, shuffled order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.native_dim = 8
        self.force_dim: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                outer.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                dim = outer.force_dim or body.get("dimensions") or outer.native_dim
                data = [
                    {"object": "embedding", "index": i,
                     "embedding": [3.0 * x for x in HashEmbedder(dim).embed_one(text)]}
                    for i, text in enumerate(texts)
                ]
                payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"],
                                      "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[_EmbeddingsServer]:
    srv = _EmbeddingsServer()
    yield srv
    srv.close()


def test_openai_embedder_normalises_and_keeps_order(server: _EmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(model="local-embed", base_url=server.base_url, api_key="k")
    texts = ["first text", "second text", "third"]
    vectors = embedder.embed(texts)
    assert embedder.dim == 8
    assert all(abs(norm(v) - 1.0) < 1e-9 for v in vectors)
    expected = HashEmbedder(8).embed(texts)
    for got, want in zip(vectors, expected, strict=True):
        assert cosine(got, want) > 0.999999
    request = server.requests[0]
    assert request["path"] == "/v1/embeddings"
    assert request["body"]["model"] == "local-embed"
    assert request["body"]["encoding_format"] == "float"
    assert "dimensions" not in request["body"]
    assert request["auth"] == "Bearer k"


def test_openai_embedder_splits_batches_and_sends_no_empty_input(
    server: _EmbeddingsServer,
) -> None:
    embedder = OpenAIEmbedder(model="m", base_url=server.base_url, api_key="k", batch_size=2)
    vectors = embedder.embed(["a", "", "c", "d", "e"])
    assert len(vectors) == 5
    assert [len(r["body"]["input"]) for r in server.requests] == [2, 2, 1]
    assert server.requests[0]["body"]["input"] == ["a", " "]


def test_openai_embedder_sends_dimensions_for_text_embedding_3(server: _EmbeddingsServer) -> None:
    embedder = resolve_embedder(
        "openai:text-embedding-3-small", dim=16, base_url=server.base_url, api_key="k"
    )
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.dim == 16 and server.requests == []
    assert len(embedder.embed(["x"])[0]) == 16
    assert server.requests[0]["body"]["dimensions"] == 16
    assert embedder.name == "openai:text-embedding-3-small@16"


def test_openai_embedder_learns_unknown_dimension_once(server: _EmbeddingsServer) -> None:
    server.native_dim = 12
    embedder = OpenAIEmbedder(model="custom", base_url=server.base_url, api_key="k")
    assert resolve_embedder(embedder) is embedder
    assert server.requests == []  # resolving must not probe the server
    assert embedder.dim == 12 and embedder.dim == 12
    assert len(server.requests) == 1


def test_openai_embedder_rejects_wrong_dimension(server: _EmbeddingsServer) -> None:
    server.force_dim = 5
    embedder = OpenAIEmbedder(model="custom", dim=8, base_url=server.base_url, api_key="k")
    with pytest.raises(DimensionMismatchError):
        embedder.embed(["x"])


def test_openai_embedder_accepts_a_client(server: _EmbeddingsServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="secret", max_retries=0)
    embedder = OpenAIEmbedder(client, model="text-embedding-3-large")
    assert embedder.dim == 3072
    assert len(server.requests) == 0


def test_openai_embedder_works_with_the_shared_test_server() -> None:
    from memori.testing.openai_embeddings import embed_text
    from memori.testing.openai_server import OpenAIServer

    with OpenAIServer(embedding_dim=32) as api:
        embedder = OpenAIEmbedder(api.client(), model="text-embedding-3-small", dim=24)
        vectors = embedder.embed(["hello shared server", "second"])
        sent = api.embedding_requests()[0].json
    assert sent["dimensions"] == 24 and sent["input"] == ["hello shared server", "second"]
    assert [len(v) for v in vectors] == [24, 24]
    assert cosine(vectors[0], embed_text("hello shared server", 24)) > 0.999999


async def test_openai_embedder_aembed_uses_the_async_client() -> None:
    from memori.testing.openai_server import OpenAIServer

    with OpenAIServer(embedding_dim=16) as api:
        embedder = OpenAIEmbedder(async_client=api.async_client(), model="custom", dim=16)
        vectors = await embedder.aembed(["async text", "more"])
        assert len(api.embedding_requests()) == 1
        with pytest.raises(ConfigurationError, match="aembed"):
            embedder.embed(["sync without a sync client"])
        threaded = OpenAIEmbedder(api.client(), model="custom", dim=16)
        assert await threaded.aembed(["async text", "more"]) == vectors
    assert [len(v) for v in vectors] == [16, 16]


def test_openai_embedder_without_openai_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'memori\[openai\]'"):
        OpenAIEmbedder(base_url="http://127.0.0.1:9/v1", api_key="k")


def test_openai_embedder_without_key_or_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="api_key"):
        OpenAIEmbedder()


# ---------------------------------------------------------------- resolution


def test_resolve_none_means_text_only() -> None:
    assert resolve_embedder(None) is None
    assert resolve_embedder("none") is None
    assert resolve_embedder(" None ") is None


def test_resolve_registered_names() -> None:
    hashed = resolve_embedder("hash")
    assert isinstance(hashed, HashEmbedder) and hashed.dim == 64
    wide = resolve_embedder("hash:128")
    assert isinstance(wide, HashEmbedder) and wide.name == "hash-128"
    local = resolve_embedder("local")
    assert isinstance(local, LocalEmbedder) and local._runtime is None  # still lazy
    assert isinstance(resolve_embedder("default"), LocalEmbedder)


def test_resolve_unknown_name_lists_registered_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_embedder("word2vec")
    message = str(info.value)
    for name in ("none", "local", "hash", "openai"):
        assert name in message


def test_resolve_rejects_bad_arguments_and_objects() -> None:
    with pytest.raises(ConfigurationError):
        resolve_embedder("hash:wide")
    with pytest.raises(ConfigurationError):
        resolve_embedder("local:extra")
    with pytest.raises(ConfigurationError):
        resolve_embedder(object())  # type: ignore[arg-type]


def test_resolve_passes_a_custom_embedder_through() -> None:
    class Custom:
        name = "custom"
        dim = 3

        def embed(self, texts: Any) -> list[list[float]]:
            return [[1.0, 0.0, 0.0] for _ in texts]

    custom = Custom()
    assert resolve_embedder(custom) is custom


def test_default_embedder_is_the_local_model() -> None:
    embedder = default_embedder()
    assert isinstance(embedder, LocalEmbedder)


def test_default_embedder_falls_back_to_none_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gone = model_files.PinnedFile("no-such-dist-memori", "1.0", "x/model.onnx", "0" * 64, 1)
    monkeypatch.setattr("memori.embedders.resolve.MODEL_FILE", gone)
    with caplog.at_level(logging.WARNING, logger="memori.embedders.resolve"):
        assert default_embedder() is None
    assert "text search only" in caplog.text


def test_discovery_imports_no_model_runtime() -> None:
    code = (
        "import sys; from memori.core import get_plugins;"
        "names = sorted(get_plugins().embedders);"
        "print(names, 'onnxruntime' in sys.modules, 'openai' in sys.modules,"
        " 'tokenizers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['hash', 'local', 'openai'] False False False"


def test_pooling_without_padding_gives_the_masked_means_numbers_exactly() -> None:
    """The plain mean a text without padding takes is the masked mean to the last bit;
    a padded batch still pools each text over its own tokens only."""
    import numpy as np

    from memori.embedders.pooling import mean_pool as _pool

    def masked(hidden: Any, mask: Any) -> Any:
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    rng = np.random.default_rng(7)
    for tokens in (1, 2, 17, 28, 128):
        for rows in (1, 3):
            hidden = rng.standard_normal((rows, tokens, 384), dtype=np.float32) * 3
            mask = np.ones((rows, tokens), dtype=np.int64)
            assert np.array_equal(_pool(hidden, mask), masked(hidden, mask))
    hidden = rng.standard_normal((2, 5, 384), dtype=np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    padded = _pool(hidden, mask)
    assert np.array_equal(padded, masked(hidden, mask))
    assert np.allclose(padded[1], _pool(hidden[1:, :2], np.ones((1, 2), dtype=np.int64))[0],
                       atol=1e-6)
