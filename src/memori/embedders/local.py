"""The local default embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, offline, no torch.

Same pipeline as sentence-transformers' ``all-MiniLM-L6-v2``: lower-cased WordPiece
tokens (at most 256), mean pooling over the attention mask, L2 normalisation; 384
dimensions. The model and tokenizer come from installed packages and are checked
against pinned sha256 hashes before first use (see :mod:`memori.embedders.model_files`).
By default the matrix products run in int8 (see :mod:`memori.embedders.quantize`);
``arithmetic="float32"`` runs the shipped graph as it is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from memori.core import ConfigurationError
from memori.embedders import beside, forking
from memori.embedders.beside import Beside
from memori.embedders.fusions import DISABLED_FUSIONS
from memori.embedders.model_files import MODEL_FILE, TOKENIZER_FILE, read_verified
from memori.embedders.pooling import mean_pool
from memori.embedders.quantize import cached_dynamic_int8, read_cached_int8
from memori.embedders.warm_start import derive_in_background
from memori.telemetry import disable_dependency_telemetry

FloatArray = npt.NDArray[np.float32]
log = logging.getLogger(__name__)

#: Calls with at most this many texts fill the query cache; bulk batches only read it,
#: so ingesting documents does not evict the queries an app keeps asking.
CACHE_FILL_MAX_TEXTS = 8
#: Longer texts are not cached (queries are short; this bounds the cache's memory).
CACHE_MAX_CHARS = 2048
#: The embedder's name for each arithmetic: vectors of one are not those of the other.
NAMES = {"int8": "all-MiniLM-L6-v2-int8-dynamic", "float32": "all-MiniLM-L6-v2-int8"}


def _default_threads() -> int:
    # Two threads take a short query from ~3.7 to ~2.7 ms on an idle CPU but double its
    # tail when the app and its database compete for two cores: only where cores abound.
    return 2 if (os.cpu_count() or 1) >= 4 else 1


def _default_workers(threads: int) -> int:
    return max(1, min(4, (os.cpu_count() or 1) // threads))


class _Runtime:
    """The loaded tokenizer and onnxruntime session (immutable once built)."""

    def __init__(self, tokenizer: Any, session: Any, feeds_token_types: bool,
                 arithmetic: str) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.feeds_token_types = feeds_token_types
        self.arithmetic = arithmetic


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) run locally; lazy, thread-safe, with a small query cache.

    ``model_path`` / ``tokenizer_path`` default to the files of the installed packages;
    whatever the path, the file must hash to ``model_sha256`` / ``tokenizer_sha256``.
    ``arithmetic``: ``"int8"`` (default) quantizes the model's matrix products to int8
    when it loads, about twice as fast on x86-64, its vectors within cosine 0.98 of the
    float32 ones; the derived model is cached in ``cache_dir`` (default: memori's
    per-user cache directory; ``False``: derive it at each load). ``"float32"`` runs the
    shipped graph unchanged. The two have different ``name``s. With int8 each text runs
    alone (its activations are scaled per run), so ``batch_size`` applies to float32.
    ``warm_start`` (default True): when the int8 model is not in the cache yet, serve
    with the shipped graph at once while it is derived in the background (about ten
    seconds, in a separate process), then switch (:attr:`serving` tells which runs);
    False derives it before the first vector, as before.
    ``threads`` is onnxruntime's intra-op threads per run (default 1 below four cores,
    where one keeps a short query stable while the app and its database share the CPU;
    2 above). Large inputs are cut into batches run on up to ``workers`` threads at once.
    """

    dim = 384
    gil_free = False
    """Inference releases the GIL, but it needs a core: run beside the text searches
    (memori.retrieval.overlap) it slowed both on two vCPUs (retrieval p50 7.9 against
    6.7 ms, 10,000 memories, once the model ran in int8), so the query is embedded first."""

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        model_sha256: str = MODEL_FILE.sha256,
        tokenizer_sha256: str = TOKENIZER_FILE.sha256,
        max_length: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
        workers: int | None = None,
        cache_size: int = 1024,
        arithmetic: Literal["int8", "float32"] = "int8",
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        warm_start: bool = True,
    ) -> None:
        if arithmetic not in NAMES:
            raise ConfigurationError(f"arithmetic is 'int8' or 'float32', not {arithmetic!r}")
        if max_length < 2 or batch_size < 1 or cache_size < 0:
            raise ConfigurationError("max_length >= 2, batch_size >= 1 and cache_size >= 0")
        if (threads is not None and threads < 1) or (workers is not None and workers < 1):
            raise ConfigurationError("threads and workers must be at least 1")
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._model_sha256 = model_sha256
        self._tokenizer_sha256 = tokenizer_sha256
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads or _default_threads()
        self.workers = workers or _default_workers(self.threads)
        self.cache_size = cache_size
        self.arithmetic = arithmetic
        self._cache_dir = cache_dir
        self.warm_start = warm_start
        self._runtime: _Runtime | None = None
        self._int8_ready = threading.Event()
        self._load_lock = threading.Lock()
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._held_for_fork = False
        forking.track(self)

    @property
    def name(self) -> str:
        return NAMES[self.arithmetic]

    def __repr__(self) -> str:
        state = "loaded" if self._runtime is not None else "not loaded"
        return f"LocalEmbedder(name={self.name!r}, dim={self.dim}, threads={self.threads}, {state})"

    @property
    def serving(self) -> str | None:
        """The arithmetic the loaded model runs (``None`` before it loads): ``"float32"``
        while a warm start waits for the int8 model, then ``"int8"``."""
        runtime = self._runtime
        return runtime.arithmetic if runtime is not None else None

    def wait_for_int8(self, timeout: float | None = None) -> bool:
        """Wait until the int8 model serves (or its derivation failed); whether it serves."""
        if self.arithmetic != "int8":
            return False
        self._ensure_runtime()
        self._int8_ready.wait(timeout)
        return self.serving == "int8"

    # forking (see memori.embedders.forking)

    def hold_for_fork(self, timeout: float) -> None:
        """Before a fork: wait for a load under way to end, and keep it from starting."""
        self._held_for_fork = self._load_lock.acquire(timeout=timeout)

    def after_fork(self, *, in_child: bool) -> None:
        """After a fork: let loads go on; in the child, fresh locks (one may have been
        held by a thread the child does not have), and a warm start that waited for the
        int8 model on a thread of the parent begins again on first use."""
        held, self._held_for_fork = self._held_for_fork, False
        if not in_child:
            if held:
                self._load_lock.release()
            return
        self._load_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        runtime = self._runtime
        if runtime is not None and runtime.arithmetic != self.arithmetic:
            self._runtime = None
            self._int8_ready = threading.Event()
            self._cache.clear()

    # loading

    def load(self) -> None:
        """Verify and load the model now (otherwise done on first ``embed``)."""
        self._ensure_runtime()

    def _ensure_runtime(self) -> _Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._load_lock:
            if self._runtime is None:
                built = self._build_runtime()
                if self._runtime is None:  # a warm start's int8 model may already be in
                    self._runtime = built
            return self._runtime

    def _build_runtime(self) -> _Runtime:
        disable_dependency_telemetry()  # again, right before onnxruntime may load
        try:
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ImportError(
                "the local embedder needs onnxruntime and tokenizers: "
                "pip install onnxruntime tokenizers"
            ) from e
        model_path = self._model_path or MODEL_FILE.locate()
        tokenizer_path = self._tokenizer_path or TOKENIZER_FILE.locate()
        model = read_verified(model_path, self._model_sha256, "embedding model")
        vocab = read_verified(tokenizer_path, self._tokenizer_sha256, "embedding tokenizer")
        tokenizer = Tokenizer.from_str(vocab.decode("utf-8"))
        tokenizer.no_padding()  # the shipped file pads every text to 128 tokens
        tokenizer.enable_truncation(max_length=self.max_length)
        if self.arithmetic == "float32":
            return self._session(tokenizer, model, "float32")
        cache_dir = self._model_cache_dir()
        if not self.warm_start:
            model = cached_dynamic_int8(model, self._model_sha256, cache_dir)
            self._int8_ready.set()
            return self._session(tokenizer, model, "int8")
        derived = read_cached_int8(self._model_sha256, cache_dir) if cache_dir else None
        if derived is not None:
            self._int8_ready.set()
            return self._session(tokenizer, derived, "int8")
        _check_quantization_available()
        shipped = self._session(tokenizer, model, "float32")
        future = derive_in_background(model_path, model, self._model_sha256, cache_dir)
        future.add_done_callback(lambda done: self._switch_to_int8(tokenizer, done))
        return shipped

    def _switch_to_int8(self, tokenizer: Any, derived: Future[bytes]) -> None:
        """Serve with the derived int8 model from now on (the query cache starts again:
        its vectors came from the shipped graph)."""
        try:
            runtime = self._session(tokenizer, derived.result(), "int8")
        except Exception as e:
            log.warning("memori: the int8 model could not be derived (%s: %s); the local "
                        "embedder goes on with the shipped float32 graph",
                        type(e).__name__, e)
        else:
            with self._cache_lock:
                self._runtime = runtime
                self._cache.clear()
        finally:
            self._int8_ready.set()

    def _session(self, tokenizer: Any, model: bytes, arithmetic: str) -> _Runtime:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError(
                "the local embedder needs onnxruntime and tokenizers: "
                "pip install onnxruntime tokenizers"
            ) from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"],
            disabled_optimizers=DISABLED_FUSIONS,
        )
        inputs = {i.name for i in session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= inputs:
            raise ConfigurationError(f"the embedding model takes {sorted(inputs)}, not BERT inputs")
        return _Runtime(tokenizer, session, "token_type_ids" in inputs, arithmetic)

    def _model_cache_dir(self) -> Path | None:
        if self._cache_dir is False:
            return None
        if self._cache_dir is None:
            from memori.config import default_cache_dir

            return default_cache_dir() / "models"
        return Path(self._cache_dir)

    # embedding

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of 384 floats, one per text, in order."""
        return [row.tolist() for row in self._embed_rows(texts)]

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` for async code: cache hits return at once, the model runs in a thread."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        hits = self._cache_get(texts)
        if len(hits) == len(set(texts)):
            return [hits[t].tolist() for t in texts]
        return await asyncio.to_thread(self.embed, texts)

    def embed_array(self, texts: Sequence[str]) -> FloatArray:
        """Like :meth:`embed`, as one ``(len(texts), 384)`` float32 array."""
        rows = self._embed_rows(texts)
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_rows(self, texts: Sequence[str]) -> list[FloatArray]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"embed() takes strings, got {type(text).__name__}")
        found = self._cache_get(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            computed = self._compute(missing)
            fresh = dict(zip(missing, computed, strict=True))
            if len(texts) <= CACHE_FILL_MAX_TEXTS:
                self._cache_put(fresh)
            found.update(fresh)
        return [found[t] for t in texts]

    def _cache_get(self, texts: Sequence[str]) -> dict[str, FloatArray]:
        if not self.cache_size:
            return {}
        hits: dict[str, FloatArray] = {}
        with self._cache_lock:
            for text in texts:
                row = self._cache.get(text)
                if row is not None:
                    self._cache.move_to_end(text)
                    hits[text] = row
        return hits

    def _cache_put(self, rows: dict[str, FloatArray]) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            for text, row in rows.items():
                if len(text) > CACHE_MAX_CHARS:
                    continue
                self._cache[text] = row
                self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _compute(self, texts: list[str]) -> list[FloatArray]:
        """Embed texts in batches of similar token length (little padding), or one by one."""
        runtime = self._ensure_runtime()
        encodings = runtime.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        # int8 activations are scaled per run: in a batch, a text's vector would depend on
        # its neighbours (cosine 0.99), so each text runs alone (deterministic per text).
        size = 1 if self.arithmetic == "int8" else self.batch_size
        chunks = [order[s : s + size] for s in range(0, len(order), size)]
        out: list[FloatArray | None] = [None] * len(texts)

        def run(lane: list[list[int]]) -> None:
            for chunk in lane:
                vectors = self._run(runtime, [encodings[i].ids for i in chunk])
                for i, vector in zip(chunk, vectors, strict=True):
                    out[i] = vector

        lanes = min(self.workers, len(chunks))
        if lanes > 1:  # a thread per lane, each through its share: no task per chunk
            with ThreadPoolExecutor(lanes) as pool:
                list(pool.map(run, [chunks[k::lanes] for k in range(lanes)]))
        else:
            run(chunks)
        return [v for v in out if v is not None]

    def embed_beside(self, text: str, *, inline_if_busy: bool = True) -> Beside | None:
        """Start embedding one text on a worker thread and return once the model runs
        there (outside the GIL); ``.result()`` is its vector (see
        :mod:`memori.embedders.beside`). The retriever runs its text searches meanwhile.
        With the worker busy the text is embedded here, or, ``inline_if_busy=False``
        (an event loop's thread), None is returned. While the model loads on another
        thread (``register()`` begins it) this returns at once, and ``.result()`` waits
        for the load."""
        if not isinstance(text, str):
            raise TypeError(f"embed_beside() takes a string, got {type(text).__name__}")
        hit = self._cache_get([text]).get(text)
        if hit is not None:
            return Beside(None, hit.tolist())
        if self._runtime is None and self._load_lock.locked():
            return _AfterLoad(self, text)  # loading on another thread (register()'s)
        runtime = self._ensure_runtime()
        feeds, mask = _feeds(runtime, [runtime.tokenizer.encode(text).ids])
        session = runtime.session
        running = beside.start(lambda: session.run(None, feeds)[0],
                               inline_if_busy=inline_if_busy)
        return None if running is None else _Pooled(running, mask, text, self, runtime)

    def _run(self, runtime: _Runtime, id_lists: list[list[int]]) -> FloatArray:
        feeds, mask = _feeds(runtime, id_lists)
        return mean_pool(runtime.session.run(None, feeds)[0], mask)


class _Pooled(Beside):
    """A vector being computed beside the caller: pooled, cached and listed on ``result``."""

    def __init__(self, running: Beside, mask: npt.NDArray[np.int64], text: str,
                 embedder: LocalEmbedder, runtime: _Runtime) -> None:
        super().__init__(None)
        self._running, self._mask, self._text = running, mask, text
        self._embedder, self._runtime = embedder, runtime

    def keep_apart(self) -> None:
        self._running.keep_apart()

    def result(self) -> list[float]:
        row = mean_pool(self._running.result(), self._mask)[0]
        if self._embedder._runtime is self._runtime:  # not from a graph switched out since
            self._embedder._cache_put({self._text: row})
        out: list[float] = row.tolist()
        return out


class _AfterLoad(Beside):
    """The vector of a text whose model is still loading on another thread: the caller's
    reads go on meanwhile (onnxruntime builds its session outside the GIL), and
    ``result`` waits for the load, then runs the model in the caller's thread."""

    def __init__(self, embedder: LocalEmbedder, text: str) -> None:
        super().__init__(None)
        self._embedder, self._text = embedder, text

    def result(self) -> list[float]:
        return self._embedder.embed([self._text])[0]


def _feeds(runtime: _Runtime, id_lists: list[list[int]]
           ) -> tuple[dict[str, npt.NDArray[np.int64]], npt.NDArray[np.int64]]:
    """The model's inputs for token id lists (padded to the longest), and the mask."""
    width = max(len(ids) for ids in id_lists)
    input_ids = np.zeros((len(id_lists), width), dtype=np.int64)
    mask = np.zeros((len(id_lists), width), dtype=np.int64)
    for row, ids in enumerate(id_lists):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    feeds = {"input_ids": input_ids, "attention_mask": mask}
    if runtime.feeds_token_types:
        feeds["token_type_ids"] = np.zeros_like(input_ids)
    return feeds, mask


def create_local_embedder(arg: str | None = None, **options: Any) -> LocalEmbedder:
    """Registry factory for ``"local"`` (takes no ``:argument``)."""
    if arg:
        raise ConfigurationError(f"the local embedder takes no argument, got 'local:{arg}'")
    return LocalEmbedder(**options)


def _check_quantization_available() -> None:
    """Fail at load, not later in the background, when ``onnx`` is missing."""
    try:
        found = importlib.util.find_spec("onnx") is not None
    except ValueError:  # imported and then removed from sys.modules
        found = False
    if not found:
        raise ConfigurationError(
            "int8 arithmetic for the local embedder needs the onnx package: pip install onnx "
            "(or LocalEmbedder(arithmetic='float32'))"
        )
