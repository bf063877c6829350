"""What the tests of the derived model's graph rewrites share: the texts they embed,
a graph's operators, and the vectors a graph gives as the local embedder pools them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from memori.embedders import LocalEmbedder
from memori.embedders.local import DISABLED_FUSIONS, _feeds
from memori.embedders.pooling import mean_pool as _pool

TEXTS = [
    "What do you remember about my running morning? (message 3)",
    "hi",
    "The user prefers spicy vegetarian food and cycles to the office every morning.",
    "我对花生过敏\uff0c晚饭不要放花生\u3002",
    "Yesterday my garden plans: " + " ".join(["tomato", "basil", "budget"] * 15) + ". Why?",
]


def ops(model: bytes) -> Counter[str]:
    """How many nodes of each operator the graph has."""
    import onnx

    return Counter(node.op_type for node in onnx.load_from_string(model).graph.node)


def vectors(model: bytes, local: LocalEmbedder) -> list[np.ndarray[Any, Any]]:
    """The vector of each of ``TEXTS`` by ``model``, tokenized and pooled by ``local``."""
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
