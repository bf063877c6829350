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
optimisations), then its ``quantize_dynamic`` rewrites the products. It takes a few
seconds and needs the ``onnx`` package, so the result is kept in a cache directory,
named by the source file's sha256 and the onnxruntime version, beside its own sha256,
which is checked on every read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from memori.core import ConfigurationError
from memori.telemetry import disable_dependency_telemetry

log = logging.getLogger(__name__)


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
        return quantized.read_bytes()


def cached_dynamic_int8(model: bytes, source_sha256: str, cache_dir: Path | None) -> bytes:
    """:func:`dynamic_int8`, read from ``cache_dir`` when derived before (``None``: no cache).

    A cached file whose sha256 differs from the one recorded beside it is derived again;
    a cache directory that cannot be written costs only the derivation, each load.
    """
    if cache_dir is None:
        return dynamic_int8(model)
    disable_dependency_telemetry()  # again, right before onnxruntime may load
    import onnxruntime

    stem = f"minilm-{source_sha256[:16]}-ort{onnxruntime.__version__}-int8"
    path, digest_path = cache_dir / f"{stem}.onnx", cache_dir / f"{stem}.sha256"
    try:
        data, expected = path.read_bytes(), digest_path.read_text().strip()
        if hashlib.sha256(data).hexdigest() == expected:
            return data
        log.warning("the cached int8 model %s does not match its sha256: deriving it again",
                    path)
    except OSError:
        pass
    data = dynamic_int8(model)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
        _write_atomically(digest_path, hashlib.sha256(data).hexdigest().encode())
    except OSError as e:
        log.info("cannot cache the int8 model in %s (%s): it is derived at each load",
                 cache_dir, e)
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
