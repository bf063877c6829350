"""The latency-floor benchmark runs as its README line says and measures what it claims:
the floor's calls inject a block without searching, the real ones search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Hit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_latency_floor as floor

BENCHMARKS = Path(floor.__file__).resolve().parent


def test_the_command_writes_every_kind_and_the_floor_injects_its_block(tmp_path: Path) -> None:
    out = tmp_path / "floor.json"
    env = {**os.environ, "MEMORI_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_latency_floor.py"), "--embedder", "hash",
         "--memories", "60", "--calls", "4", "--warmup", "1", "--output", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["ms"]) == set(floor.KINDS)
    assert result["calls"] == 4 and result["memories"] == 60
    # every registered call, searched or not, carried a block; the others cannot
    assert result["calls_with_a_block"] == {"bare": 0, "memory": 4, "floor": 4,
                                            "model alone": 0}
    assert result["model_arithmetic"] is None  # the hash embedder has no int8 graph
    assert "the search (memory - floor, p50)" in done.stdout


def test_the_fixed_hits_retriever_waits_for_the_vector_and_never_searches(
    tmp_path: Path,
) -> None:
    with Memori(f"sqlite:///{tmp_path / 'f.db'}", embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="u", session_id="s")
        mem.remember("I keep bees on the roof.")
        real = mem.retriever
        hits = real.retrieve(mem.store, mem.current.scope(), "bees", limit=5)
        assert hits and all(isinstance(h, Hit) for h in hits)

        class Started:
            waited = False

            def result(self) -> list[float]:
                Started.waited = True
                return [0.0] * 8

        class NoSearch:
            def __getattr__(self, name: str) -> object:
                raise AssertionError(f"the floor touched the store: {name}")

        fixed = floor.FixedHits(real, hits)
        started = Started()
        assert fixed.retrieve(NoSearch(), mem.current.scope(), "anything",  # type: ignore[arg-type]
                              limit=1, started=started) == hits[:1]
        assert Started.waited


def test_int8_products_reads_each_weight_shape() -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "W1", "az", "wz"], ["Y1"]),
         helper.make_node("MatMulInteger", ["A", "W2", "az", "wz"], ["Y2"]),
         helper.make_node("Add", ["Y1", "Y1"], ["Z"])], "g",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [2, 4])],
        [helper.make_tensor_value_info("Z", TensorProto.INT32, [2, 3]),
         helper.make_tensor_value_info("Y2", TensorProto.INT32, [2, 5])],
        [numpy_helper.from_array(np.zeros((4, 3), np.int8), "W1"),
         numpy_helper.from_array(np.zeros((4, 5), np.int8), "W2")])
    model = helper.make_model(graph).SerializeToString()
    assert floor.int8_products(model) == [(4, 3), (4, 5)]
    assert onnx is not None
