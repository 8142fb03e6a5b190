"""Grouped convolutions with one input channel per group, rewritten as true depthwise ones.

Why: FastViT/MobileCLIP downsample with 7x7 convolutions whose groups equal their input
channels but which make two outputs per group (64 -> 128 channels in 64 groups). oneDNN has
a fast kernel for depthwise convolutions (outputs = inputs = groups) but runs this shape as
a general grouped convolution on AMX tiles with one input channel per group: on the Xeon,
OpenVINO bf16 spent 40 of 149 ms of a 16-photo MobileCLIP2-S0 batch in the four such layers.

Repeating each input channel ``m`` times and convolving with ``groups = outputs`` computes
the same sums with the same weights: output channel ``o`` still sees only input channel
``o // m``, so nothing is approximated (ONNX Runtime: max difference 7e-9). The depthwise
kernel then takes these layers: the tower ran 111 -> 145 photos/s on the Xeon. The repeat is
a 1x1 convolution whose weights are 0 and 1 (exact: one product by 1 per output, the rest
zeros), not a Gather: OpenVINO runs Gather in the plain layout, with a layout conversion on
each side (5 ms of a 16-photo batch); the convolution stays in the blocked layout (tower
median 163 -> 171 photos/s; ONNX Runtime within noise, 56 vs 53). Neither engine's own
graph passes made this change (the profile above is after them), hence this small pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rewrite(model: Any) -> int:
    """Rewrite ``model`` (an ``onnx.ModelProto``) in place; the number of convolutions changed."""
    from onnx import helper, numpy_helper

    g = model.graph
    weights = {t.name: t for t in g.initializer}
    nodes, changed = [], 0
    for node in g.node:
        m = _multiplier(node, weights)
        if m > 1:
            groups = _group(node)
            picks = f"{node.name or node.output[0]}/depthwise_repeat"
            g.initializer.append(numpy_helper.from_array(_repeat_weights(groups, m), picks))
            repeated = f"{picks}/output"
            nodes.append(helper.make_node("Conv", [node.input[0], picks], [repeated]))
            node.input[0] = repeated
            for a in node.attribute:
                if a.name == "group":
                    a.i = groups * m
            changed += 1
        nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    return changed


def _repeat_weights(channels: int, m: int) -> np.ndarray:
    """A 1x1 convolution's weights (channels * m, channels, 1, 1) copying input ``o // m`` to output ``o``."""
    w = np.zeros((channels * m, channels, 1, 1), np.float32)
    w[np.arange(channels * m), np.arange(channels * m) // m] = 1.0
    return w


def _group(node: Any) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def _multiplier(node: Any, weights: dict[str, Any]) -> int:
    """Outputs per group of a Conv with one input channel per group (and a constant weight); else 0."""
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in weights:
        return 0
    groups, dims = _group(node), list(weights[node.input[1]].dims)  # (out, in / groups, kH, kW)
    if groups < 2 or len(dims) < 3 or dims[1] != 1 or dims[0] % groups:
        return 0
    return dims[0] // groups
