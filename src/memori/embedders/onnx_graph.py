"""What the derived model's graph rewrites share: lookups over an ONNX graph, dropping
the nodes a rewrite left unread, and the probe inputs a rewrite is checked on, run
through both graphs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from memori.embedders.fusions import DISABLED_FUSIONS

log = logging.getLogger(__name__)

PROBE_LENGTHS = (3, 17, 61)
"""Token counts of the probe inputs (each alone, then all in one padded batch)."""


class Graph:
    """Lookups over an ONNX graph: who produces a tensor, who reads it, constants."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.readers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)
        self.constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)

    def made_by(self, name: str, op: str) -> Any:
        node = self.producer.get(name)
        if node is None or node.op_type != op:
            raise NoMatch(f"{name} is not made by {op}")
        return node

    def only_reader(self, name: str, op: str) -> Any:
        readers = self.readers.get(name, [])
        if len(readers) != 1 or readers[0].op_type != op:
            raise NoMatch(f"{name} is not read by one {op}")
        return readers[0]

    def scalar(self, name: str) -> float:
        value = self.constants.get(name)
        if value is None or value.size != 1:
            raise NoMatch(f"{name} is not a constant scalar")
        return float(value.reshape(-1)[0])


class NoMatch(Exception):
    """The graph does not have the expected shape here."""


def live(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """``nodes`` without those whose outputs nothing reads (repeatedly), in order."""
    while True:
        read = {name for node in nodes for name in node.input} | outputs
        kept = [node for node in nodes if any(out in read for out in node.output)]
        if len(kept) == len(nodes):
            return kept
        nodes = kept


def rebuilt(proto: Any, nodes: list[Any]) -> bytes:
    """``proto`` serialised with ``nodes`` as its graph, those nothing reads left out, and
    onnxruntime's own operator domain imported (the rewrites' nodes are from it)."""
    from onnx import helper

    del proto.graph.node[:]
    proto.graph.node.extend(live(nodes, {o.name for o in proto.graph.output}))
    if not any(o.domain == "com.microsoft" for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    out: bytes = proto.SerializeToString()
    return out


def session(model: bytes) -> Any:
    """An onnxruntime session of ``model`` as the embedder runs it (one thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options,
                                providers=["CPUExecutionProvider"],
                                disabled_optimizers=DISABLED_FUSIONS)


def probes(input_names: set[str]) -> Iterator[tuple[dict[str, Any], np.ndarray[Any, Any]]]:
    """Probe feeds (fixed random token ids: each length alone, then all padded in one
    batch) and, for each, which positions are real tokens (padding is pooled out)."""
    rng = np.random.default_rng(0)
    batch = [rng.integers(1000, 20000, n).tolist() for n in PROBE_LENGTHS]
    for id_lists in [[ids] for ids in batch] + [batch]:
        width = max(len(ids) for ids in id_lists)
        input_ids = np.zeros((len(id_lists), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(id_lists):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask,
                 "token_type_ids": np.zeros_like(input_ids)}
        yield {k: v for k, v in feeds.items() if k in input_names}, mask.astype(bool)


Outputs = np.ndarray[Any, Any]


def on_probes(before: bytes, after: bytes, rewrite: str,
              ) -> list[tuple[Outputs, Outputs, Outputs]] | None:
    """Each probe's outputs by both graphs, and which positions are real tokens; None
    when the rewritten graph does not load here (its node is not in this onnxruntime)."""
    try:
        old, new = session(before), session(after)
    except Exception as e:
        log.info("memori: the %s graph does not load (%s)", rewrite, e)
        return None
    return [(old.run(None, feeds)[0], new.run(None, feeds)[0], rows)
            for feeds, rows in probes({i.name for i in old.get_inputs()})]
