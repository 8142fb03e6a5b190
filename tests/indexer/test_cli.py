"""End to end through the ``glimpse`` CLI with the committed model and generated photos."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.cli.main import PARTIAL, main
from tests import world
from tests.conftest import MODEL_SPEC


def glimpse(capsys: pytest.CaptureFixture[str], lib: Path, *args: str, expect: int = 0) -> str:
    code = main(["--library", str(lib), "--model", MODEL_SPEC, *args])
    out = capsys.readouterr().out
    assert code == expect, out
    return out


def search(capsys, lib: Path, *args: str) -> list[dict]:
    return json.loads(glimpse(capsys, lib, "search", *args, "--json"))["results"]


@pytest.fixture
def photos(tmp_path: Path) -> list[world.CorpusItem]:
    return world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(3), 30), seed=3)


def test_index_then_text_image_and_composed_search(capsys, tmp_path: Path, photos) -> None:
    lib = tmp_path / "lib"
    out = glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q")
    assert "30 new" in out
    firsts = [search(capsys, lib, world.caption(item.scene), "-n", "1")[0]["path"] == str(item.path)
              for item in photos[:10]]
    assert sum(firsts) >= 9, firsts

    query = tmp_path / "query.jpg"
    world.perturb(world.render(photos[4].scene, 192, seed=3 * 100_003 + 4), seed=1).save(query)
    assert search(capsys, lib, "--image", str(query), "-n", "1")[0]["path"] == str(photos[4].path)


def test_composed_query_finds_the_modified_scene(capsys, tmp_path: Path) -> None:
    """Reference image + "make it blue" puts the blue version above the reference's lookalikes."""
    ref = world.Scene("star", "red", "large", "left", "striped", "gray")
    target = ref.with_(colour="blue")
    distractors = [ref.with_(texture="dotted"), ref.with_(shape="circle"), ref.with_(tone="white"),
                   world.Scene("circle", "blue", "small", "right", "plain", "black"),
                   world.Scene("square", "blue", "large", "center", "dotted", "white")]
    items = world.write_corpus(tmp_path / "photos", [target, *distractors], seed=8)
    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(tmp_path / "photos"), "-q")
    ref_file = tmp_path / "ref.jpg"
    world.render(ref, 192, seed=5).save(ref_file)
    image_only = search(capsys, lib, "--image", str(ref_file), "-n", "6")
    composed = search(capsys, lib, "make it blue", "--image", str(ref_file), "-n", "6")
    assert composed[0]["path"] == str(items[0].path)
    assert [h["path"] for h in image_only] != [h["path"] for h in composed]


def test_reindex_embeds_nothing_and_deletions_leave_results(capsys, tmp_path: Path, photos) -> None:
    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q")
    out = glimpse(capsys, lib, "index", "-q")
    assert "0 new, 0 changed" in out and "30 unchanged" in out
    gone = photos[7]
    gone.path.unlink()
    assert "1 removed" in glimpse(capsys, lib, "index", "-q")
    paths = [h["path"] for h in search(capsys, lib, world.caption(gone.scene), "-n", "30", "--min-score", "0")]
    assert str(gone.path) not in paths and len(paths) == 29


def test_lost_ann_index_is_rebuilt_with_identical_results(capsys, tmp_path: Path, photos) -> None:
    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q")
    before = search(capsys, lib, "a blue circle", "-n", "10")
    shutil.rmtree(lib / "ann")
    after = search(capsys, lib, "a blue circle", "-n", "10")
    assert [(h["path"], round(h["score"], 5)) for h in after] == [(h["path"], round(h["score"], 5)) for h in before]
    assert list((lib / "ann").glob("*/ann.json"))  # the model's index, rebuilt and saved


def test_bad_files_are_recorded_with_reasons_and_the_run_completes(capsys, tmp_path: Path, photos) -> None:
    folder = photos[0].path.parent
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.png").write_text("this is not a picture")
    data = photos[0].path.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    lib = tmp_path / "lib"
    out = glimpse(capsys, lib, "index", str(folder), "-q", expect=PARTIAL)  # finished, some files failed
    assert "3 errors" in out
    errors = json.loads(glimpse(capsys, lib, "status", "--errors", "--json"))["errors"]
    reasons = {Path(e["path"]).name: e["reason"] for e in errors}
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert "not a recognisable image" in reasons["text.png"]
    assert "truncated" in reasons["truncated.jpg"]
    status = json.loads(glimpse(capsys, lib, "status", "--json"))
    assert status["photos"] == 30 and status["errors"] == 3


def test_json_output_has_the_documented_fields(capsys, tmp_path: Path, photos) -> None:
    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q")
    hit = search(capsys, lib, "a red square", "-n", "1")[0]
    assert {"path", "score", "kind", "timestamp", "start", "end"} <= hit.keys()
    assert hit["kind"] == "photo" and hit["timestamp"] is None


def test_another_model_is_refused_with_a_clear_message(capsys, tmp_path: Path, photos) -> None:
    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q")
    other = tmp_path / "other-model"
    shutil.copytree(Path(MODEL_SPEC.removeprefix("local-dir:")), other)
    cfg = json.loads((other / "open_clip_config.json").read_text())
    cfg["preprocess_cfg"]["interpolation"] = "bilinear"
    (other / "open_clip_config.json").write_text(json.dumps(cfg))
    code = main(["--library", str(lib), "--model", f"local-dir:{other}", "search", "a red star"])
    assert code == 2
    assert "this library uses model" in capsys.readouterr().err


def test_missing_model_gives_advice_not_a_traceback(capsys, tmp_path: Path) -> None:
    code = main(["--library", str(tmp_path / "lib"), "--model", f"local-dir:{tmp_path / 'nope'}", "search", "x"])
    assert code == 2
    assert "open_clip_config.json" in capsys.readouterr().err


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = ("import sys\nfrom indexer.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules and 'cv2' not in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "glimpse" in res.stdout and "search" in res.stdout


def test_a_reader_that_goes_away_ends_the_search_quietly(capsys, tmp_path: Path, photos) -> None:
    """`glimpse search x | head -1`: no traceback, no error line, the shell's SIGPIPE status."""
    import os

    lib = tmp_path / "lib"
    glimpse(capsys, lib, "index", str(photos[0].path.parent), "-q", "--no-text")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "indexer", "--library", str(lib), "search", "a red star",
                               "--min-score", "0"], stdout=write, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2], timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""
