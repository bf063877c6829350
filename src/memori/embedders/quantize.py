"""Derive the int8-arithmetic variant of the local model from the pinned file.

The shipped ``model.onnx`` stores int8 weights but computes in float32: onnxruntime
turns every weight back into float32 when it loads the file, so each matrix product
runs in float32. Quantizing those products dynamically (weights int8 per output
channel, activations uint8 per call) lets onnxruntime run them as integer products
(VNNI / AVX2): about twice as fast for a short query on x86-64. The vectors stay
close to the float32 ones (cosine 0.98 or better, 0.99 on average); the recall cost
is measured on LoCoMo (docs/benchmarks.md).

The derivation is deterministic and offline: onnxruntime's quantization
pre-processing folds the stored weights to float32 (shape inference and basic graph
optimisations), then its ``quantize_dynamic`` rewrites the products, and each
attention layer becomes one node (:mod:`memori.embedders.attention`), and so does each
GELU (:mod:`memori.embedders.gelu`). It takes a few
seconds and needs the ``onnx`` package, so the result is kept in a cache directory,
named by the source file's sha256 and the onnxruntime version, beside its own sha256,
which is checked on every read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from memori.core import ConfigurationError
from memori.embedders.attention import fuse_attention
from memori.embedders.gelu import fuse_gelu
from memori.telemetry import disable_dependency_telemetry

log = logging.getLogger(__name__)
DERIVATION = "mha1-gelu1"
"""Names the derivation in the cache file's name: a change to it derives the model again
(``mha1``: quantized, then each attention layer one node, see ``attention``; ``gelu1``:
then each GELU one node, see ``gelu``)."""


def dynamic_int8(model: bytes) -> bytes:
    """The model with its float32 matrix products quantized dynamically to int8."""
    disable_dependency_telemetry()  # again, right before onnxruntime may load
    try:
        from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic
    except ImportError as e:  # onnx is missing: onnxruntime.quantization imports it
        raise ConfigurationError(
            "int8 arithmetic for the local embedder needs the onnx package: pip install onnx "
            "(or LocalEmbedder(arithmetic='float32'))"
        ) from e
    with tempfile.TemporaryDirectory(prefix="memori-model-") as tmp:
        source = Path(tmp) / "model.onnx"
        folded = Path(tmp) / "float32.onnx"
        quantized = Path(tmp) / "int8.onnx"
        source.write_bytes(model)
        quant_pre_process(source, folded, skip_symbolic_shape=True)
        quantize_dynamic(folded, quantized, weight_type=QuantType.QInt8, per_channel=True)
        return fuse_gelu(fuse_attention(quantized.read_bytes()))


def cache_paths(source_sha256: str, cache_dir: Path) -> tuple[Path, Path]:
    """The derived model's file and the file of its sha256, in ``cache_dir``."""
    disable_dependency_telemetry()  # again, right before onnxruntime may load
    import onnxruntime

    stem = f"minilm-{source_sha256[:16]}-ort{onnxruntime.__version__}-int8-{DERIVATION}"
    return cache_dir / f"{stem}.onnx", cache_dir / f"{stem}.sha256"


def read_cached_int8(source_sha256: str, cache_dir: Path) -> bytes | None:
    """The derived model from ``cache_dir`` when it is there and matches its sha256."""
    path, digest_path = cache_paths(source_sha256, cache_dir)
    try:
        data, expected = path.read_bytes(), digest_path.read_text().strip()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() == expected:
        return data
    log.warning("the cached int8 model %s does not match its sha256: deriving it again", path)
    return None


def derive_and_cache(model: bytes, source_sha256: str, cache_dir: Path) -> bytes:
    """:func:`dynamic_int8`, written to ``cache_dir`` (a directory that cannot be written
    costs only the derivation, each load)."""
    data = dynamic_int8(model)
    path, digest_path = cache_paths(source_sha256, cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
        _write_atomically(digest_path, hashlib.sha256(data).hexdigest().encode())
    except OSError as e:
        log.info("cannot cache the int8 model in %s (%s): it is derived at each load",
                 cache_dir, e)
    return data


def cached_dynamic_int8(model: bytes, source_sha256: str, cache_dir: Path | None) -> bytes:
    """:func:`dynamic_int8`, read from ``cache_dir`` when derived before (``None``: no cache).

    A cached file whose sha256 differs from the one recorded beside it is derived again.
    """
    if cache_dir is None:
        return dynamic_int8(model)
    cached = read_cached_int8(source_sha256, cache_dir)
    return cached if cached is not None else derive_and_cache(model, source_sha256, cache_dir)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str]) -> int:
    """``python -m memori.embedders.quantize MODEL SHA256 CACHE_DIR``: derive the int8 model
    of a verified model file into the cache (what :mod:`memori.embedders.warm_start` runs
    in a separate process)."""
    from memori.embedders.model_files import read_verified

    if len(argv) != 3:
        print("usage: python -m memori.embedders.quantize MODEL SHA256 CACHE_DIR", file=sys.stderr)
        return 2
    model_path, sha256, cache_dir = Path(argv[0]), argv[1], Path(argv[2])
    model = read_verified(model_path, sha256, "embedding model")
    if read_cached_int8(sha256, cache_dir) is None:
        derive_and_cache(model, sha256, cache_dir)
    return 0 if read_cached_int8(sha256, cache_dir) is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
