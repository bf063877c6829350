"""One node per GELU in the derived int8 model: the same vectors to within 1e-4.

The exported graph spells each feed-forward layer's GELU out as five element-wise
nodes, ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (Div, Erf, Add, Mul, Mul), each a pass
over a token-by-1,536 tensor whose dispatch costs more than its arithmetic for a
short text. onnxruntime's ``Gelu`` (com.microsoft) computes the same function in one.
Its arithmetic is not the graph's to the last bit (it multiplies by 1/sqrt(2) where
the graph divides by sqrt(2), and rounds in another order), and the next layer's
dynamic int8 quantization can turn such a last-bit change into another int8 code, so
the vectors move a little: the rewrite is kept only if every probe's vector (the
model's outputs mean-pooled and normalised, as the embedder pools them) keeps a
cosine of at least ``MIN_COSINE`` with the exported graph's, else the graph is left
as it was. Measured on the benchmark question (17 tokens, one thread, Intel Xeon,
3,000 runs of each graph alternating): 2.33 instead of 2.49 ms; the lowest cosine
over 80 inputs of 3-100 random tokens 0.99998 (docs/benchmarks.md, local embedder;
on an AVX2-only machine one natural question turned an int8 code: 0.996 with the
exported graph, as close to the float32 one).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from memori.embedders.onnx_graph import Graph, NoMatch, on_probes, rebuilt
from memori.embedders.pooling import mean_pool

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
"""The lowest cosine a probe's vector may keep with the exported graph's."""


def _gelus(g: Graph) -> list[tuple[Any, str]]:
    """Each spelled-out GELU's last node and the tensor it is the GELU of."""
    found = []
    for erf in [n for n in g.graph.node if n.op_type == "Erf"]:
        try:
            div = g.made_by(erf.input[0], "Div")
            if not math.isclose(g.scalar(div.input[1]), math.sqrt(2.0), rel_tol=1e-6):
                raise NoMatch("not a division by sqrt(2)")
            x = div.input[0]
            plus_one = g.only_reader(erf.output[0], "Add")
            if g.scalar(_other(plus_one, erf.output[0])) != 1.0:
                raise NoMatch("not erf + 1")
            first = g.only_reader(plus_one.output[0], "Mul")
            second = g.only_reader(first.output[0], "Mul")
            factors = {_other(first, plus_one.output[0]), _other(second, first.output[0])}
            half = factors - {x}
            if x not in factors or len(half) != 1 or g.scalar(half.pop()) != 0.5:
                raise NoMatch("not x * 0.5 * (erf + 1)")
        except NoMatch as e:
            log.debug("GELU not rewritten at %s: %s", erf.name, e)
            continue
        found.append((second, x))
    return found


def _other(node: Any, name: str) -> str:
    """The input of a two-input ``node`` that is not ``name``."""
    others = [i for i in node.input if i != name]
    if len(node.input) != 2 or len(others) != 1:
        raise NoMatch(f"{node.name} does not take {name} and one other input")
    return str(others[0])


def fuse_gelu(model: bytes) -> bytes:
    """``model`` with each spelled-out GELU as one Gelu node, if every probe's vector
    stays within ``MIN_COSINE`` of the exported graph's; else ``model`` unchanged."""
    import onnx
    from onnx import helper

    proto = onnx.load_from_string(model)
    found = _gelus(Graph(proto.graph))
    if not found:
        return model
    replace = {
        id(last): helper.make_node("Gelu", [x], [last.output[0]], domain="com.microsoft",
                                   name=f"memori_gelu_{i}")
        for i, (last, x) in enumerate(found)}
    nodes = [replace.get(id(node), node) for node in proto.graph.node]
    fused = rebuilt(proto, nodes)
    if not _close_vectors(model, fused):
        log.warning("memori: the fused GELU graph moved the vectors; the derived model "
                    "keeps the exported GELU")
        return model
    return fused


def _close_vectors(before: bytes, after: bytes) -> bool:
    """Whether every probe's pooled vector keeps a cosine of ``MIN_COSINE`` or more."""
    outputs = on_probes(before, after, "fused GELU")
    return outputs is not None and all(
        want.shape == got.shape
        and float((mean_pool(want, rows) * mean_pool(got, rows)).sum(axis=1).min())
        >= MIN_COSINE
        for want, got, rows in outputs)
