"""The derived int8 model's attention as one node per layer (``memori.embedders.attention``):
the same vectors to the last bit as the exported graph, kept only when that holds."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from memori.embedders import LocalEmbedder, attention, quantize
from memori.embedders.model_files import MODEL_FILE, read_verified
from model_graphs import ops, vectors


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The derived model as exported (attention spelled out) and as fused."""
    shipped = read_verified(MODEL_FILE.locate(), MODEL_FILE.sha256, "embedding model")
    fused = quantize.dynamic_int8(shipped)
    real = attention.fuse_attention
    try:
        quantize.fuse_attention = lambda model, hidden=384: model  # type: ignore[assignment]
        exported = quantize.dynamic_int8(shipped)
    finally:
        quantize.fuse_attention = real
    return exported, fused


def test_each_layer_is_one_attention_node(models: tuple[bytes, bytes]) -> None:
    exported, fused = models
    assert ops(exported)["MultiHeadAttention"] == 0 and ops(exported)["Softmax"] == 6
    assert ops(fused)["MultiHeadAttention"] == 6
    assert ops(fused)["Softmax"] == 0
    assert sum(ops(fused).values()) < sum(ops(exported).values()) - 100


def test_the_fused_model_gives_the_exported_models_vectors_exactly(
    models: tuple[bytes, bytes],
) -> None:
    local = LocalEmbedder(cache_size=0)
    exported, fused = models
    for before, after in zip(vectors(exported, local), vectors(fused, local), strict=True):
        assert np.array_equal(before, after)


def test_the_embedder_serves_the_fused_model(tmp_path: Path) -> None:
    embedder = LocalEmbedder(cache_dir=tmp_path, warm_start=False, cache_size=0)
    embedder.load()
    (cached,) = tmp_path.glob("*.onnx")
    assert quantize.DERIVATION in cached.name  # an older derivation is not reused
    assert ops(cached.read_bytes())["MultiHeadAttention"] == 6


def test_a_rewrite_that_changes_a_number_is_not_kept(
    models: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exported, _ = models
    monkeypatch.setattr(attention, "_same_outputs", lambda before, after: False)
    with caplog.at_level(logging.WARNING, logger="memori.embedders.attention"):
        assert attention.fuse_attention(exported) == exported
    assert "gave other numbers" in caplog.text


def test_the_probes_catch_a_wrong_scale(models: tuple[bytes, bytes]) -> None:
    """The check is real: the same rewrite with another scale is refused."""
    import onnx

    exported, fused = models
    proto = onnx.load_from_string(fused)
    for node in proto.graph.node:
        if node.op_type == "MultiHeadAttention":
            for attribute in node.attribute:
                if attribute.name == "scale":
                    attribute.f *= 1.001
    assert attention._same_outputs(exported, fused)
    assert not attention._same_outputs(exported, proto.SerializeToString())
