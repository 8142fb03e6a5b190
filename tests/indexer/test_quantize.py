"""int8 towers stay faithful to fp32 on the committed model, and the choice is cached."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from indexer.model.engines import OnnxTowers
from indexer.model.openclip import Embedder, TorchTowers
from tests import semantics, world
from tests.conftest import MODEL_SPEC


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("onnx")
    return Embedder(MODEL_SPEC), Embedder(MODEL_SPEC, precision="int8", cache=cache), cache


def test_int8_embeddings_match_fp32(pair) -> None:
    fp32, int8, _ = pair
    scenes = world.distinct_scenes(random.Random(42), 40)
    imgs = [world.render(s, 128, seed=i) for i, s in enumerate(scenes)]
    caps = [world.caption(s) for s in scenes]
    img_cos = np.sum(fp32.encode_images(imgs) * int8.encode_images(imgs), axis=1)
    txt_cos = np.sum(fp32.encode_texts(caps) * int8.encode_texts(caps), axis=1)
    assert img_cos.mean() >= 0.99 and txt_cos.mean() >= 0.99, (img_cos.mean(), txt_cos.mean())


def test_retrieval_unchanged_at_r1(pair) -> None:
    fp32, int8, _ = pair
    a = semantics.text_to_image_r1(fp32.encode_images, fp32.encode_texts, seed=606, n=100, held_out=None)
    b = semantics.text_to_image_r1(int8.encode_images, int8.encode_texts, seed=606, n=100, held_out=None)
    assert b >= a - 0.01, (a, b)


def test_choice_is_measured_and_cached(pair) -> None:
    _, int8, cache = pair
    folders = [p for p in Path(cache).iterdir() if (p / "choice.json").exists()]
    assert len(folders) == 1
    choice = json.loads((folders[0] / "choice.json").read_text())
    for tower in ("image", "text"):
        stats = choice[f"{tower}_stats"]
        assert stats["int8"]["fidelity"] >= 0.99 or choice[tower].endswith("fp32.onnx")
        assert (folders[0] / choice[tower]).exists()
        chosen = {"onnxruntime": choice[tower].split("_")[1].removesuffix(".onnx")}.get(choice[f"{tower}_engine"],
                                                                                      choice[f"{tower}_engine"])
        faithful = [s for s in stats.values() if s["fidelity"] >= 0.99]

        def cost(s: dict, tower: str = tower) -> float:  # the text tower is judged by opening it plus one query
            return s["seconds"] + (s.get("open_seconds", 0.0) if tower == "text" else 0.0)
        assert cost(stats[chosen]) <= 1.06 * min(cost(s) for s in faithful)  # the fastest (int8 on ties)
    again = Embedder(MODEL_SPEC, precision="int8", cache=cache)  # loads, does not rebuild
    assert again.towers.choice == choice


def test_every_engine_candidate_is_faithful(pair, tmp_path: Path) -> None:
    """Whichever engine a machine ends up choosing, its vectors match torch fp32 on real renders."""
    from indexer.model import engines, quantize

    fp32, int8, _ = pair
    quantize.build(tmp_path, fp32.model, fp32.tokenizer, fp32.image_size, 2, keep_all=True)
    scenes = world.distinct_scenes(random.Random(8), 24)
    pixels = np.stack([fp32.preprocess(world.render(s, 128, seed=i)) for i, s in enumerate(scenes)])
    tokens = int8.tokenize([world.caption(s) for s in scenes])
    ref_img, ref_txt = fp32.encode_pixels(pixels), fp32.encode_texts([world.caption(s) for s in scenes])
    names = [name for name, *_ in engines.candidates()]
    assert names[:2] == ["fp32", "int8"]
    for _, engine, prec in engines.candidates():
        img = engines.open_tower(tmp_path / f"image_{prec}.onnx", engine, 2)(pixels)
        txt = engines.open_tower(tmp_path / f"text_{prec}.onnx", engine, 2)(tokens)
        img /= np.linalg.norm(img, axis=1, keepdims=True)
        txt /= np.linalg.norm(txt, axis=1, keepdims=True)
        assert np.sum(img * ref_img, 1).mean() >= 0.99, (engine, prec)
        assert np.sum(txt * ref_txt, 1).mean() >= 0.99, (engine, prec)


def test_precision_is_validated() -> None:
    with pytest.raises(ValueError, match="precision"):
        Embedder(MODEL_SPEC, precision="int4")


def test_a_choice_made_among_other_engines_is_made_again(tmp_path: Path) -> None:
    """After an upgrade adds an engine, the next start measures again instead of keeping the old pick."""
    from indexer.model import engines, runtime

    first = Embedder(MODEL_SPEC, precision="int8", cache=tmp_path)
    choice_file = first.folder / "choice.json"
    old = json.loads(choice_file.read_text())
    old["candidates"] = ["fp32"]  # as if made by a Glimpse that knew only one candidate
    choice_file.write_text(json.dumps(old))
    assert runtime.load(first.folder, 1) is None
    again = Embedder(MODEL_SPEC, precision="int8", cache=tmp_path)
    assert again.towers.choice["candidates"] == [name for name, _, _ in engines.candidates()]
    assert runtime.load(first.folder, 1) is not None


def test_an_engine_that_cannot_run_here_is_skipped(pair, tmp_path: Path, monkeypatch) -> None:
    """OpenVINO installed but unable to run (missing plugin): ONNX Runtime is chosen, nothing fails."""
    from indexer.base import environment
    from indexer.model import engines, quantize

    def broken(*args, **kwargs):
        raise RuntimeError("Device with \"CPU\" name is not registered in the OpenVINO Runtime")

    monkeypatch.setattr(engines, "OvTower", broken)
    monkeypatch.setattr(engines, "available_engines", lambda: list(environment.ENGINES))
    fp32 = pair[0]
    choice = quantize.build(tmp_path, fp32.model, fp32.tokenizer, fp32.image_size, 2)
    for tower in ("image", "text"):
        assert choice[f"{tower}_engine"] == "onnxruntime"
        assert "openvino" not in choice[f"{tower}_stats"]
    towers = engines.OnnxTowers(tmp_path, 2)
    assert towers.encode_tokens(fp32.tokenize(["a red star"])).shape == (1, fp32.dim)


def test_a_killed_export_is_retried_at_the_next_start(tmp_path: Path) -> None:
    """kill -9 in the middle of an export leaves no verdict: the next start exports again."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "onnx"
    killer = ("import os, signal, sys\nfrom indexer.model import engines\nfrom indexer.model.openclip import Embedder\n"
              "def die():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
              "engines.candidates = die  # after both towers are exported and quantized, before the choice\n"
              f"from pathlib import Path\nEmbedder({MODEL_SPEC!r}, precision='int8', cache=Path({str(cache)!r}))\n")
    res = subprocess.run([sys.executable, "-c", killer], cwd=Path(__file__).resolve().parents[2], capture_output=True)
    assert res.returncode == -9
    (folder,) = cache.iterdir()
    assert not (folder / "choice.json").exists() and list(folder.glob("tmp*"))  # killed mid-way
    emb = Embedder(MODEL_SPEC, precision="int8", cache=cache)
    assert isinstance(emb.towers, OnnxTowers)  # exported this time, and used
    choice = json.loads((folder / "choice.json").read_text())
    assert "error" not in choice and not list(folder.glob("tmp*"))
    assert os.path.exists(folder / choice["image"])


def test_a_full_disk_during_export_is_not_remembered_as_unexportable(tmp_path: Path, monkeypatch) -> None:
    from indexer.model import quantize

    cache = tmp_path / "onnx"
    real = quantize.build

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(quantize, "build", full)
    emb = Embedder(MODEL_SPEC, precision="int8", cache=cache)
    assert isinstance(emb.towers, TorchTowers)  # torch fp32 this time
    (folder,) = cache.iterdir()
    assert not (folder / "choice.json").exists()
    monkeypatch.setattr(quantize, "build", real)
    assert isinstance(Embedder(MODEL_SPEC, precision="int8", cache=cache).towers, OnnxTowers)  # space again: exported


def test_two_processes_starting_with_a_new_model_export_it_once(tmp_path: Path) -> None:
    """Both get a working export; they never share a temp folder or leave a broken verdict."""
    import subprocess
    import sys

    cache = tmp_path / "onnx"
    code = ("import sys\nfrom pathlib import Path\nfrom indexer.model.openclip import Embedder\n"
            f"e = Embedder({MODEL_SPEC!r}, precision='int8', cache=Path({str(cache)!r}))\n"
            "print('torch' if type(e.towers).__name__ == 'TorchTowers' else 'onnx')\n")
    repo = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o.strip() for o, _ in outs] == ["onnx", "onnx"], outs
    (folder,) = cache.iterdir()
    assert "error" not in json.loads((folder / "choice.json").read_text())
    assert not list(folder.glob("tmp*"))
