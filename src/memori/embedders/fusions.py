"""The onnxruntime graph fusions the local embedder's sessions leave out.

Its fused SkipLayerNormalization kernel takes about 2.5 us a token row against 0.25 us
for the plain Add and LayerNormalization it replaces (onnxruntime 1.32, x86-64):
without it a 15-token query runs in 1.4 instead of 1.8 ms (int8), with the same output
to 1e-6 (docs/benchmarks.md, local embedder section). The sessions that check a
rewritten graph (``attention``) run as the embedder's do.
"""

from __future__ import annotations

DISABLED_FUSIONS = ["SkipLayerNormFusion"]
