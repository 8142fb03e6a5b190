"""Grouped convolutions made depthwise compute what they computed (depthwise.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _graph(path: Path, rng: np.random.Generator) -> None:
    """3 channels in; a 3x3 conv with 3 groups and 4 outputs each (the shape rewritten, as
    MobileCLIP's downsampling), then a true depthwise and a dense conv (shapes left alone)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = {"w_grouped": rng.normal(size=(12, 1, 3, 3)), "b_grouped": rng.normal(size=12),
         "w_dw": rng.normal(size=(12, 1, 3, 3)), "w_dense": rng.normal(size=(4, 12, 1, 1))}
    nodes = [helper.make_node("Conv", ["x", "w_grouped", "b_grouped"], ["a"], group=3, pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("Conv", ["a", "w_dw"], ["b"], group=12, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w_dense"], ["c"]),
             helper.make_node("Flatten", ["c"], ["y"])]
    g = helper.make_graph(nodes, "convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 9, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 100])],
                          [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _groups(model) -> list[int]:
    from indexer.model import depthwise

    return [depthwise._group(n) for n in model.graph.node if n.op_type == "Conv"]


def test_a_grouped_conv_with_one_input_per_group_becomes_depthwise_with_the_same_output(tmp_path: Path) -> None:
    import onnx

    from indexer.model import depthwise
    from indexer.model.engines import OrtTower

    rng = np.random.default_rng(0)
    src, dst = tmp_path / "tower.onnx", tmp_path / "tower.dw.onnx"
    _graph(src, rng)
    model = onnx.load(str(src))
    assert depthwise.rewrite(model) == 1  # the depthwise and the dense conv are left as they are
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    assert _groups(model) == [1, 12, 12, 1]  # the repeat (1x1), the rewritten conv, the two left alone
    assert depthwise.rewrite(model) == 0
    x = rng.normal(size=(2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(OrtTower(dst, 1)(x), OrtTower(src, 1)(x), rtol=1e-5, atol=1e-5)


def test_the_uint8_tower_is_made_depthwise_and_replaces_an_older_rewrite(tmp_path: Path) -> None:
    import onnx

    from indexer.model import u8graph
    from indexer.model.engines import OrtTower

    rng = np.random.default_rng(1)
    src = tmp_path / "image_fp32.onnx"
    _graph(src, rng)
    older = tmp_path / "image_fp32.u8.onnx"  # what an older Glimpse made (no depthwise rewrite)
    older.write_bytes(b"stale")
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    wrapped = u8graph.wrap(src, mean, std, lambda _p: True)
    assert wrapped is not None and _groups(onnx.load(str(wrapped))) == [1, 12, 12, 1]
    assert not older.exists()
    rgb = rng.integers(0, 256, (2, 9, 9, 3), dtype=np.uint8)
    pixels = (rgb.astype(np.float32).transpose(0, 3, 1, 2) / 255 - np.reshape(mean, (1, 3, 1, 1))) \
        / np.reshape(std, (1, 3, 1, 1))
    np.testing.assert_allclose(OrtTower(wrapped, 1)(rgb), OrtTower(src, 1)(pixels.astype(np.float32)),
                               rtol=1e-4, atol=1e-4)
