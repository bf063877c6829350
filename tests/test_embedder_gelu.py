"""The derived int8 model's GELU as one node per layer (``memori.embedders.gelu``): the
vectors within ``MIN_COSINE`` of the exported graph's, kept only when that holds."""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memori.embedders import LocalEmbedder, gelu, quantize
from memori.embedders.local import DISABLED_FUSIONS, _feeds, _pool

TEXTS = [
    "What do you remember about my running morning? (message 3)",
    "hi",
    "The user prefers spicy vegetarian food and cycles to the office every morning.",
    "我对花生过敏\uff0c晚饭不要放花生\u3002",
    "Yesterday my garden plans: " + " ".join(["tomato", "basil", "budget"] * 15) + ". Why?",
]


@pytest.fixture(scope="module")
def models() -> tuple[bytes, bytes]:
    """The derived model with its GELUs as exported and as fused."""
    from memori.embedders.model_files import MODEL_FILE, read_verified

    shipped = read_verified(MODEL_FILE.locate(), MODEL_FILE.sha256, "embedding model")
    fused = quantize.dynamic_int8(shipped)
    real = quantize.fuse_gelu
    try:
        quantize.fuse_gelu = lambda model: model  # type: ignore[assignment]
        exported = quantize.dynamic_int8(shipped)
    finally:
        quantize.fuse_gelu = real
    return exported, fused


def _ops(model: bytes) -> Counter[str]:
    import onnx

    return Counter(node.op_type for node in onnx.load_from_string(model).graph.node)


def _vectors(model: bytes, local: LocalEmbedder) -> list[np.ndarray[Any, Any]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, sess_options=options,
                                   providers=["CPUExecutionProvider"],
                                   disabled_optimizers=DISABLED_FUSIONS)
    runtime = local._ensure_runtime()
    out = []
    for text in TEXTS:
        feeds, mask = _feeds(runtime, [runtime.tokenizer.encode(text).ids])
        out.append(_pool(session.run(None, feeds)[0], mask)[0])
    return out


def _spelled_out(divisor: float = math.sqrt(2.0), half: float = 0.5) -> bytes:
    """A graph of one GELU as the exporter spells it (x / d, erf, + 1, * h, * x)."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: float) -> Any:
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)

    nodes = [helper.make_node("Div", ["x", "d"], ["a"]), helper.make_node("Erf", ["a"], ["b"]),
             helper.make_node("Add", ["b", "one"], ["c"]),
             helper.make_node("Mul", ["h", "c"], ["e"]), helper.make_node("Mul", ["x", "e"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[const("d", divisor), const("one", 1.0), const("h", half)])
    return helper.make_model(graph).SerializeToString()


def test_each_gelu_is_one_node(models: tuple[bytes, bytes]) -> None:
    exported, fused = models
    assert _ops(exported)["Erf"] == 6 and _ops(exported)["Gelu"] == 0
    assert _ops(fused)["Gelu"] == 6
    assert _ops(fused)["Erf"] == 0 and _ops(fused)["Div"] == 0
    assert sum(_ops(fused).values()) == sum(_ops(exported).values()) - 4 * 6


def test_the_fused_model_keeps_the_exported_models_vectors(
    models: tuple[bytes, bytes],
) -> None:
    local = LocalEmbedder(cache_size=0)
    exported, fused = models
    for before, after in zip(_vectors(exported, local), _vectors(fused, local), strict=True):
        assert float(before @ after) >= gelu.MIN_COSINE


def test_the_embedder_serves_the_fused_model(tmp_path: Path) -> None:
    embedder = LocalEmbedder(cache_dir=tmp_path, warm_start=False, cache_size=0)
    embedder.load()
    (cached,) = tmp_path.glob("*.onnx")
    assert "gelu" in quantize.DERIVATION and quantize.DERIVATION in cached.name
    assert _ops(cached.read_bytes())["Gelu"] == 6


def test_a_rewrite_that_moves_the_vectors_is_not_kept(
    models: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exported, _ = models
    monkeypatch.setattr(gelu, "_close_vectors", lambda before, after: False)
    with caplog.at_level(logging.WARNING, logger="memori.embedders.gelu"):
        assert gelu.fuse_gelu(exported) == exported
    assert "moved the vectors" in caplog.text


def test_the_probes_catch_another_function(models: tuple[bytes, bytes]) -> None:
    """The check is real: the same rewrite with ReLU in place of GELU is refused."""
    import onnx

    exported, fused = models
    proto = onnx.load_from_string(fused)
    for node in proto.graph.node:
        if node.op_type == "Gelu":
            node.op_type, node.domain = "Relu", ""
    assert gelu._close_vectors(exported, fused)
    assert not gelu._close_vectors(exported, proto.SerializeToString())


def test_only_the_exact_spelling_is_matched() -> None:
    from memori.embedders.onnx_graph import Graph

    def matches(model: bytes) -> int:
        import onnx

        return len(gelu._gelus(Graph(onnx.load_from_string(model).graph)))

    assert matches(_spelled_out()) == 1
    assert matches(_spelled_out(divisor=2.0)) == 0
    assert matches(_spelled_out(half=0.25)) == 0


def test_a_graph_without_that_gelu_is_left_as_it_is() -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["input_ids"], ["out"])], "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph).SerializeToString()
    assert gelu.fuse_gelu(model) == model
