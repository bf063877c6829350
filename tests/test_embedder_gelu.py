"""The derived int8 model's GELU as one node per layer (``memori.embedders.gelu``): the
vectors within ``MIN_COSINE`` of the exported graph's, kept only when that holds."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memori.embedders import LocalEmbedder, attention, gelu, quantize
from model_graphs import TEXTS, ops, vectors


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
    assert ops(exported)["Erf"] == 6 and ops(exported)["Gelu"] == 0
    assert ops(fused)["Gelu"] == 6
    assert ops(fused)["Erf"] == 0 and ops(fused)["Div"] == 0
    assert sum(ops(fused).values()) == sum(ops(exported).values()) - 4 * 6


def test_the_fused_model_keeps_the_exported_modelsvectors(
    models: tuple[bytes, bytes],
) -> None:
    """Most texts keep their vector to ``MIN_COSINE``; where the kernel's last bit moves
    an activation's int8 rounding (one text of five on an AVX2-only machine: 0.996), the
    fused vector is still as close to the float32 graph's as the exported one is."""
    from memori.embedders.model_files import MODEL_FILE, read_verified

    local = LocalEmbedder(cache_size=0)
    exported, fused = models
    shipped = read_verified(MODEL_FILE.locate(), MODEL_FILE.sha256, "embedding model")
    kept = 0
    for before, after, exact in zip(vectors(exported, local), vectors(fused, local),
                                    vectors(shipped, local), strict=True):
        kept += float(before @ after) >= gelu.MIN_COSINE
        assert float(before @ after) >= 0.99  # int8's own noise: 0.98-0.99 from float32
        assert float(after @ exact) >= float(before @ exact) - 0.001
    assert kept >= len(TEXTS) - 1


def test_the_embedder_serves_the_fused_model(tmp_path: Path) -> None:
    embedder = LocalEmbedder(cache_dir=tmp_path, warm_start=False, cache_size=0)
    embedder.load()
    (cached,) = tmp_path.glob("*.onnx")
    assert "gelu" in quantize.DERIVATION and quantize.DERIVATION in cached.name
    assert ops(cached.read_bytes())["Gelu"] == 6


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


@pytest.mark.parametrize("rewrite", [gelu.fuse_gelu, attention.fuse_attention],
                         ids=["gelu", "attention"])
def test_a_graph_without_the_pattern_is_left_as_it_is(rewrite: Any) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["input_ids"], ["out"])], "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph).SerializeToString()
    assert rewrite(model) == model
