"""The image tower in int8 calibrated on the user's photos (issue #39, model/calibrated.py): real
quantization (ONNX Runtime), real OpenVINO, the committed test models and real photos."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.base.environment import available_engines
from indexer.model import calibrated
from indexer.model.engines import open_tower
from indexer.model.openclip import Embedder
from tests import world
from tests.conftest import SHARED_DATA

ASSETS = Path(__file__).resolve().parents[1] / "assets"
pytestmark = pytest.mark.skipif("openvino" not in available_engines(), reason="OpenVINO is not installed")


def _photos(n: int) -> list[Image.Image]:
    """Real photos where the shared corpus is present, else rendered scenes."""
    files = sorted(p for p in (SHARED_DATA / "photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) >= n:
        return [Image.open(p).convert("RGB") for p in random.Random(5).sample(files, n)]
    return [world.render(s, size=192, seed=i) for i, s in enumerate(world.distinct_scenes(random.Random(5), n))]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_the_first_photos_decide_once_and_the_next_start_follows(tmp_path: Path) -> None:
    """Indexing 64 photos makes the decision; its record says what the next start runs,
    and the vectors of later photos stay interchangeable with fp32 ones whichever way it went."""
    spec = f"local-dir:{ASSETS / 'tiny-clip-conv'}"
    first = Embedder(spec, 2, "int8", cache=tmp_path)
    assert first.towers.calibration is not None  # collecting
    photos = _photos(96)
    graph = first.towers.calibration.graph
    first.encode_images(photos[:calibrated.CALIBRATION + calibrated.HELD_OUT])
    record = json.loads((first.folder / calibrated.RECORD).read_text())
    assert first.towers.calibration is None and record["version"] == calibrated.VERSION
    assert record["chosen"] == (record["mean_cosine"] >= calibrated.FIDELITY_MIN
                                and record["least_cosine"] >= calibrated.LEAST_MIN
                                and record["photos_per_s"]["int8"] > record["photos_per_s"]["running"])
    assert calibrated.graph_path(graph).exists() == record["chosen"]
    after = Embedder(spec, 2, "int8", cache=tmp_path)
    assert after.towers.calibration is None  # nothing collected again
    assert (after.towers.image_graph == calibrated.graph_path(graph)) == record["chosen"]
    reference = Embedder(spec, 2, "fp32").encode_images(photos[64:])
    assert np.mean(_cosines(after.encode_images(photos[64:]), reference)) >= calibrated.FIDELITY_MIN


@pytest.mark.parametrize("model", ["tiny-clip", "tiny-clip-conv", "tiny-clip-gap", "tiny-clip-weak", "tiny-clip-wide"])
def test_the_calibrated_graph_is_faithful_on_photos_it_was_not_calibrated_on(tmp_path: Path, model: str) -> None:
    """Every test model, quantized on 32 photos, embeds 64 others as its fp32 graph does."""
    emb = Embedder(f"local-dir:{ASSETS / model}", 2, "int8", cache=tmp_path)
    graph = emb.towers.calibration.graph  # the fp32 graph taking uint8 pixels, kept by the export
    pixels = np.stack([emb.preprocess(im) for im in _photos(96)])
    out = tmp_path / "int8cal.onnx"
    calibrated.quantize(graph, out, pixels[:32])
    int8, fp32 = (open_tower(g, "openvino", 2, cache=False, fallback=False) for g in (out, graph))
    cos = _cosines(int8(pixels[32:]), fp32(pixels[32:]))
    assert np.mean(cos) >= calibrated.FIDELITY_MIN and np.min(cos) >= calibrated.LEAST_MIN, cos


CRASHING_CHILD = """
import ctypes, sys
import onnxruntime.quantization as q
q.quantize_static = lambda *a, **k: ctypes.string_at(0)  # a native crash where the quantizer runs
from pathlib import Path
from indexer.model.openclip import Embedder
from tests.indexer.test_calibrated import _photos
emb = Embedder(sys.argv[1], 2, "int8", cache=Path(sys.argv[2]))
emb.encode_images(_photos(64))
"""


def test_a_native_crash_while_deciding_is_retried_once_then_never(tmp_path: Path) -> None:
    """A process that dies inside the decision (a real segmentation fault) does not take every later
    start down at the same photo: the next start tries once more, the one after keeps its tower."""
    import subprocess
    import sys

    spec = f"local-dir:{ASSETS / 'tiny-clip-conv'}"
    root = Path(__file__).resolve().parents[2]
    for attempt in (1, 2):
        done = subprocess.run([sys.executable, "-c", CRASHING_CHILD, spec, str(tmp_path)], cwd=root,
                              capture_output=True, timeout=300)
        assert done.returncode < 0, done.stderr.decode()[-2000:]  # killed by the signal, not an exception
        record = json.loads(next(tmp_path.glob(f"*/{calibrated.RECORD}")).read_text())
        assert record["interrupted"] and record["attempts"] == attempt
    after = Embedder(spec, 2, "int8", cache=tmp_path)
    assert after.towers.calibration is None and not after.towers.image_graph.name.endswith(".int8cal.onnx")
    assert after.encode_images(_photos(4)).shape[0] == 4


def test_the_app_decides_in_a_child_process_and_the_cli_in_its_own(tmp_path: Path, monkeypatch) -> None:
    """Deciding holds the GIL long enough to freeze a window: a library opened as the app opens it
    (isolated) hands the decision to a child process, one the CLI opens decides in its own."""
    from indexer import Library

    monkeypatch.setenv("GLIMPSE_MODELS", str(tmp_path / "models"))
    spec = f"local-dir:{ASSETS / 'tiny-clip-conv'}"
    app = Library.open(tmp_path / "app", isolated=True, model=spec)
    cli = Library.open(tmp_path / "cli", model=spec)
    try:
        assert app.embedder.towers.calibration.apart
        assert not cli.embedder.towers.calibration.apart
    finally:
        app.close()
        cli.close()


def test_a_child_process_decides_while_indexing_goes_on(tmp_path: Path) -> None:
    """The 64th photo starts a real child process and returns at once; the child's record (written
    by another process) is what the next batch takes: the int8 tower if it was chosen."""
    spec = f"local-dir:{ASSETS / 'tiny-clip-conv'}"
    emb = Embedder(spec, 2, "int8", cache=tmp_path, calibrate=calibrated.Deciding.APART)
    calibration = emb.towers.calibration
    photos = _photos(96)
    running = emb.towers.tower("image")
    emb.encode_images(photos[:calibrated.CALIBRATION + calibrated.HELD_OUT])
    assert calibration.child is not None and emb.towers.calibration is calibration  # deciding apart
    assert calibration.child.wait(timeout=300) == 0
    record = json.loads((emb.folder / calibrated.RECORD).read_text())
    assert "mean_cosine" in record and not record.get("interrupted")
    emb.encode_images(photos[64:66])  # the next batch takes the outcome
    assert emb.towers.calibration is None and not (emb.folder / calibrated.PICTURES).exists()
    assert (emb.towers.tower("image") is not running) == record["chosen"]
    reference = Embedder(spec, 2, "fp32").encode_images(photos[66:])
    assert np.mean(_cosines(emb.encode_images(photos[66:]), reference)) >= calibrated.FIDELITY_MIN


def test_a_child_killed_while_deciding_leaves_the_tower_as_it_was(tmp_path: Path) -> None:
    """SIGKILL of the deciding child as soon as it starts: the app goes on with its tower, and the
    next start collects photos to decide again (a record, if the child wrote one, says interrupted)."""
    import signal

    spec = f"local-dir:{ASSETS / 'tiny-clip-conv'}"
    emb = Embedder(spec, 2, "int8", cache=tmp_path, calibrate=calibrated.Deciding.APART)
    calibration, running = emb.towers.calibration, emb.towers.tower("image")
    photos = _photos(70)
    emb.encode_images(photos[:64])
    calibration.child.send_signal(signal.SIGKILL)
    assert calibration.child.wait(timeout=60) == -signal.SIGKILL
    emb.encode_images(photos[64:66])
    assert emb.towers.calibration is None and emb.towers.tower("image") is running
    record = emb.folder / calibrated.RECORD
    assert not record.exists() or json.loads(record.read_text())["interrupted"]
    assert Embedder(spec, 2, "int8", cache=tmp_path).towers.calibration is not None  # tried again next start
