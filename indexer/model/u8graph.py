"""The image tower taking a picture's bytes: scaling, normalisation and layout moved into its graph.

Why: after the resize, open_clip's transform is arithmetic over every pixel (to float, divide
by 255, subtract the mean, divide by the std, HWC to CHW). In numpy that was 3.8 ms of a
6.7 ms preprocessing per photo on the AMD EPYC, and batches of float pixels are 4x the bytes
of uint8 ones. In the graph it is one Cast, Transpose, Mul and Add that the engine runs
vectorised over the whole batch (OpenVINO fuses the scale and shift into one MulAdd node,
0.8 ms of a 16-photo batch on the Xeon). The resize stays in Pillow (photos differ in size,
a batch cannot).

The same rewrite of the graph also turns its grouped convolutions with one input channel per
group into depthwise ones (depthwise.py: exact, and 30 % faster in OpenVINO on the Xeon).

The new graph is written once beside the chosen one (``image_fp32.u8v3.onnx``; ``VERSION``
changes the name when the rewrite changes, so a graph made by an older Glimpse is made again)
and used only if it embeds probe pictures as the float path does (cosine >= ``FIDELITY_MIN``);
a graph that cannot be rewritten or fails the check is recorded (``.u8v3.refused``) and not
retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.base import atomic
from indexer.model import depthwise

log = logging.getLogger(__name__)
FIDELITY_MIN = 0.9999  # measured 1.0000 on the tiny and MobileCLIP2-S0 graphs; float order is all that differs
INPUT = "rgb"
VERSION = "u8v3"  # v2: grouped convolutions made depthwise; v3: their inputs repeated by a 1x1 convolution


def u8_path(graph: Path) -> Path:
    return graph.with_name(f"{graph.stem}.{VERSION}.onnx")


def _forget_older(graph: Path) -> None:
    """Older Glimpses' rewrites of ``graph`` (tens of MB each, or their refusal marks) once this
    version's is made or refused: neither is read again."""
    for old in graph.parent.glob(f"{graph.stem}.u8*"):
        if not old.name.startswith(f"{graph.stem}.{VERSION}."):
            old.unlink(missing_ok=True)


def wrap(graph: Path, mean: Sequence[float], std: Sequence[float], check: Callable[[Path], bool]) -> Path | None:
    """``graph`` (float NCHW pixels in) with uint8 NHWC input, made and ``check``-ed once; None if it cannot be."""
    done, refused = u8_path(graph), graph.with_name(f"{graph.stem}.{VERSION}.refused")
    if done.exists() and done.stat().st_mtime >= graph.stat().st_mtime:
        return done
    if refused.exists() and refused.stat().st_mtime >= graph.stat().st_mtime:
        return None
    try:
        with atomic.replacing(done, fsync=False) as tmp:  # its presence means "made and checked"
            _write(graph, tmp, mean, std)
            if not check(tmp):
                raise ValueError("it does not embed pictures as the float path does")
        _forget_older(graph)
        return done
    except Exception as e:  # noqa: BLE001 - any failure of a third-party graph rewrite means "keep the float path"
        log.info("cannot give %s a uint8 input: %s", graph.name, e)
        refused.touch()
        _forget_older(graph)
        return None


def _write(src: Path, dst: Path, mean: Sequence[float], std: Sequence[float]) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    old = g.input[0]
    dims = [d.dim_value or d.dim_param for d in old.type.tensor_type.shape.dim]  # [n, 3, H, W]
    if len(dims) != 4 or dims[1] != 3:
        raise ValueError(f"unexpected image input {dims}")
    std_a, mean_a = np.asarray(std, np.float32), np.asarray(mean, np.float32)
    scale = (1.0 / (255.0 * std_a)).reshape(1, 3, 1, 1)
    shift = (-mean_a / std_a).reshape(1, 3, 1, 1)
    g.initializer.extend([numpy_helper.from_array(scale.astype(np.float32), "u8_scale"),
                          numpy_helper.from_array(shift.astype(np.float32), "u8_shift")])
    nodes = [helper.make_node("Cast", [INPUT], ["u8_float"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["u8_float"], ["u8_nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Mul", ["u8_nchw", "u8_scale"], ["u8_scaled"]),
             helper.make_node("Add", ["u8_scaled", "u8_shift"], [old.name])]
    for i, node in enumerate(nodes):
        g.node.insert(i, node)
    g.input.remove(old)
    g.input.insert(0, helper.make_tensor_value_info(INPUT, TensorProto.UINT8, [dims[0], dims[2], dims[3], 3]))
    n = depthwise.rewrite(model)
    log.info("%s: %d grouped convolutions made depthwise", src.name, n)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def agrees(run_u8: Callable[[np.ndarray], np.ndarray], run_float: Callable[[np.ndarray], np.ndarray],
           rgb: np.ndarray, pixels: np.ndarray) -> float:
    """The least cosine between the two paths' embeddings of the same pictures."""
    a, b = run_u8(rgb), run_float(pixels)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=1)))
