"""The torch-free runtime gives the same inputs and vectors as open_clip, and needs no torch."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.model import preprocess, runtime, tokenizer
from tests import world
from tests.conftest import MODEL_SPEC, TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]


def _pictures() -> list[Image.Image]:
    scenes = world.distinct_scenes(random.Random(3), 6)
    renders = [world.render(s, 97 + 31 * i, seed=i) for i, s in enumerate(scenes)]
    return [im.convert("RGB") for im in preprocess.probe_pictures()] + renders


@pytest.mark.parametrize("resize_mode", ["shortest", "longest", "squash"])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_preprocessing_matches_open_clip(resize_mode: str, interpolation: str) -> None:
    from open_clip.transform import image_transform

    cfg = {"size": 64, "mean": (0.48, 0.45, 0.40), "std": (0.26, 0.26, 0.27), "interpolation": interpolation,
           "resize_mode": resize_mode, "fill_color": 7}
    theirs = image_transform(64, is_train=False, mean=cfg["mean"], std=cfg["std"], resize_mode=resize_mode,
                             interpolation=interpolation, fill_color=7)
    ours = preprocess.Preprocessor(cfg)
    for im in _pictures():
        a, b = ours(im), theirs(im).numpy()
        assert a.shape == b.shape == (3, 64, 64)
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"{im.size} {im.mode}")


def test_tokenizer_matches_open_clip(tmp_path: Path) -> None:
    from open_clip import SimpleTokenizer

    captions = [world.caption(s) for s in world.distinct_scenes(random.Random(5), 30)]
    texts = list(tokenizer.PROBE_STRINGS) + captions
    texts += ["a Dog", "<start_of_text> hi", "ｆｕｌｌ ｗｉｄｔｈ", "tab\tand\u00a0nbsp"]
    for context in (77, 16):
        theirs = SimpleTokenizer(context_length=context)
        text, meta = tokenizer.tokenizer_from_open_clip(theirs)
        (tmp_path / "t.json").write_text(text)
        ours = tokenizer.Tokenizer(tmp_path / "t.json", meta)
        np.testing.assert_array_equal(ours(texts), theirs(texts).numpy())


def test_second_start_needs_no_torch(tmp_path: Path) -> None:
    """After the first start exported the model, loading and encoding import neither torch nor open_clip."""
    from indexer.model.openclip import Embedder

    first = Embedder(MODEL_SPEC, precision="int8", cache=tmp_path)
    meta = json.loads((first.folder / runtime.RUNTIME_FILE).read_text())
    assert meta["preprocess"] and meta["tokenizer"], meta  # both verified against open_clip's
    scenes = world.distinct_scenes(random.Random(9), 8)
    for i, s in enumerate(scenes):
        world.render(s, 150, seed=i).save(tmp_path / f"{i}.png")
    captions = [world.caption(s) for s in scenes]
    code = f"""
import json, sys
from pathlib import Path
from PIL import Image
from indexer.model.openclip import Embedder
e = Embedder({MODEL_SPEC!r}, precision="int8", cache=Path({str(tmp_path)!r}))
imgs = [Image.open(Path({str(tmp_path)!r}) / f"{{i}}.png") for i in range(8)]
img = e.encode_images(imgs).tolist()
loaded = sorted(e.towers._towers)  # indexing alone loads no text tower
out = {{"img": img, "loaded": loaded, "txt": e.encode_texts({captions!r}).tolist(),
        "heavy": sorted(m for m in ("torch", "open_clip", "torchvision", "timm") if m in sys.modules)}}
print(json.dumps(out))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert got["loaded"] == ["image"]
    imgs = [Image.open(tmp_path / f"{i}.png") for i in range(8)]
    np.testing.assert_allclose(np.array(got["img"]), first.encode_images(imgs), atol=1e-5)
    np.testing.assert_allclose(np.array(got["txt"]), first.encode_texts(captions), atol=1e-5)


def test_unverifiable_parts_fall_back_to_open_clip(tmp_path: Path) -> None:
    """A transform that the numpy version cannot reproduce is not recorded; the model still works."""
    from open_clip import SimpleTokenizer

    tok = SimpleTokenizer(context_length=32)
    tok.clean_fn = lambda x: x.upper()  # a clean-up the runtime does not know
    assert tokenizer.tokenizer_from_open_clip(tok) is None
    meta = runtime.write(tmp_path, lambda im: np.zeros((3, 64, 64), np.float32),
                         json.loads((TINY_MODEL / "open_clip_config.json").read_text())["preprocess_cfg"], tok, 64)
    assert meta["preprocess"] is None and meta["tokenizer"] is None
    (tmp_path / "choice.json").write_text(json.dumps({"image": "image_fp32.onnx", "text": "text_fp32.onnx"}))
    assert runtime.load(tmp_path, 1) is None  # so Embedder keeps open_clip's transform and tokenizer


def test_the_word_cache_gives_the_bpes_ids(tmp_path: Path) -> None:
    """A short plain query is tokenized from the word cache without loading the BPE; the ids are the
    BPE's (and open_clip's) for every kind of text, whether its words were cached or not."""
    from open_clip import SimpleTokenizer

    theirs = SimpleTokenizer(context_length=32)
    text, meta = tokenizer.tokenizer_from_open_clip(theirs)
    (tmp_path / "tokenizer.json").write_text(text)
    rng = random.Random(3)
    words = ["dog", "beach", "sunset", "zxqv", "blorp", "photo's", "it'll", "42", "1st", "C++", "x-ray", "U.S.A.",
             "&amp;", "naïve", "Ünïcödé", "e-mail!!", "RED", "CamelCase", "__init__", "#tag", "$5", "100%"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(300)]
    texts += list(tokenizer.PROBE_STRINGS) + [world.caption(s) for s in world.distinct_scenes(random.Random(6), 30)]
    (tmp_path / tokenizer.OLD_WORDS_FILE).write_text("a query someone typed\t1,2\n")
    first = tokenizer.Tokenizer(tmp_path / "tokenizer.json", meta)
    assert not (tmp_path / tokenizer.OLD_WORDS_FILE).exists()  # an older cache of past queries is removed
    expected = theirs(texts).numpy()
    np.testing.assert_array_equal(first(texts), expected)  # fills the vocabulary's cache
    cached = (tmp_path / tokenizer.WORDS_FILE).read_text()
    assert "\ndog\t" in cached and "zxqv" not in cached and "blorp" not in cached  # no word searched is kept
    plain = [i for i, t in enumerate(texts[:300]) if tokenizer.PLAIN.fullmatch(t)]
    assert 50 < len(plain) < 300  # and the others (non-ASCII, "&") go through the BPE
    vocabulary = {line.split("\t", 1)[0] for line in cached.splitlines()}
    vocabulary_only = [i for i in plain if set(tokenizer.ASCII_WORDS.findall(first.clean(texts[i]))) <= vocabulary]
    second = tokenizer.Tokenizer(tmp_path / "tokenizer.json", meta)  # a new process: the cache, no BPE
    np.testing.assert_array_equal(second([texts[i] for i in vocabulary_only]), expected[vocabulary_only])
    assert second._bpe is None and vocabulary_only
    np.testing.assert_array_equal(second(texts), expected)


def _photos(tmp_path: Path) -> list[Image.Image]:
    """Real photos where the shared corpus is here (JPEG, every size and orientation), else rendered JPEGs."""
    from tests.conftest import SHARED_DATA

    files = sorted((SHARED_DATA / "photos").rglob("*.jpg"))[:40] if (SHARED_DATA / "photos").is_dir() else []
    if not files:
        for i, s in enumerate(world.distinct_scenes(random.Random(4), 12)):
            world.render(s, 120 + 37 * i, seed=i, canvas=(200 + 41 * i, 150 + 23 * i)).save(tmp_path / f"{i}.jpg")
        files = sorted(tmp_path.glob("*.jpg"))
    return [Image.open(f).convert("RGB") for f in files]


def test_the_image_tower_takes_bytes_and_embeds_photos_as_open_clips_transform_does(tmp_path: Path) -> None:
    """The normalisation moved into the graph: uint8 pixels in, and the same vectors as open_clip's
    own transform fed to the float graph (cosine >= 0.999 on real photos), in the engine chosen."""
    import open_clip

    from indexer.model import u8graph
    from indexer.model.engines import OrtTower
    from indexer.model.openclip import Embedder

    emb = Embedder(MODEL_SPEC, precision="int8", cache=tmp_path / "models")
    photos = _photos(tmp_path)
    assert emb.preprocess(photos[0]).dtype == np.uint8  # bytes leave the decode threads, not floats
    graph = emb.folder / json.loads((emb.folder / "choice.json").read_text())["image"]
    assert emb.towers.image_graph == u8graph.u8_path(graph)
    _, _, transform = open_clip.create_model_and_transforms(MODEL_SPEC)
    theirs = OrtTower(graph, 1)(np.stack([transform(im).numpy() for im in photos]))
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    ours = emb.encode_images(photos)
    assert np.min(np.sum(ours * theirs, axis=1)) >= 0.999


def _flatten_graph(path: Path) -> None:
    """A stand-in image tower: (n, 3, 4, 4) float pixels in, flattened out."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Flatten", ["pixels"], ["embedding"])], "tower",
                          [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 4, 4])],
                          [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 48])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_bytes_in_the_graph_are_normalised_as_numpy_did_and_a_failed_check_keeps_the_float_path(tmp_path) -> None:
    from indexer.model import u8graph
    from indexer.model.engines import OrtTower

    mean, std = [0.48, 0.45, 0.40], [0.26, 0.26, 0.27]
    graph = tmp_path / "image_fp32.onnx"
    _flatten_graph(graph)
    older = tmp_path / "image_fp32.u8v2.onnx"  # an older Glimpse's rewrite, tens of MB for a real tower
    older.write_bytes(b"older rewrite")
    assert u8graph.wrap(graph, mean, std, lambda _p: False) is None  # disagrees: kept float, and remembered
    assert not older.exists()  # never read again, so not left on the disk
    assert (tmp_path / f"image_fp32.{u8graph.VERSION}.refused").exists() and not u8graph.u8_path(graph).exists()
    assert u8graph.wrap(graph, mean, std, lambda _p: True) is None  # not retried at every start

    (tmp_path / f"image_fp32.{u8graph.VERSION}.refused").unlink()
    wrapped = u8graph.wrap(graph, mean, std, lambda _p: True)
    rgb = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    expected = ((rgb.astype(np.float32).transpose(0, 3, 1, 2) / 255 - np.reshape(mean, (1, 3, 1, 1)))
                / np.reshape(std, (1, 3, 1, 1))).reshape(2, 48)
    np.testing.assert_allclose(OrtTower(wrapped, 1)(rgb), expected, atol=1e-5)

    broken = tmp_path / "other.onnx"
    broken.write_bytes(b"not an onnx graph")
    assert u8graph.wrap(broken, mean, std, lambda _p: True) is None
