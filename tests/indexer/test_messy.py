"""A messy real library: any file name, any image mode, any failure of one file, any thread."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer import Library, Query, Watcher
from indexer.cli.main import main
from indexer.upkeep.doctor import check
from tests import world
from tests.conftest import MODEL_SPEC
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
LATIN1 = os.fsdecode(b"\xe9t\xe9 \xe0 la plage.jpg")  # "été à la plage" from an old Latin-1 drive


def cli(capsys, lib: Path | str, *args: str) -> tuple[int, str, str]:
    code = main(["--library", str(lib), "--model", MODEL_SPEC, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_name_that_is_not_utf8_is_indexed_found_shown_renamed_and_tracked(capsys, tmp_path: Path, where) -> None:
    folder = tmp_path / "photos"
    scenes = world.distinct_scenes(random.Random(31), 10)
    world.write_corpus(folder, scenes[1:], seed=31)
    odd = folder / LATIN1
    world.render(scenes[0], 192).save(odd, format="JPEG")
    lib = where

    code, out, err = cli(capsys, lib, "index", str(folder), "-q")
    assert code == 0 and "10 new" in out and "0 errors" in out, (out, err)

    code, out, _ = cli(capsys, lib, "search", world.caption(scenes[0]), "--limit", "1", "--min-score", "0", "--json")
    best = json.loads(out)["results"][0]
    assert os.fsdecode(base64.b64decode(best["path_b64"])) == str(odd)  # lossless
    assert best["path"].endswith("\ufffdt\ufffd \ufffd la plage.jpg")  # readable
    code, out, _ = cli(capsys, lib, "search", world.caption(scenes[0]), "--limit", "1", "--min-score", "0")
    assert code == 0 and "\ufffdt\ufffd \ufffd la plage.jpg" in out

    with Library.open(lib) as library:
        row = library.store.file(str(odd))
        assert row is not None and row.status == "ok" and row.path == str(odd)
        renamed = folder / os.fsdecode(b"plage \xff\xfe.jpg")
        odd.rename(renamed)
        report = library.index()
        assert report.moved == 1 and report.errors == 0
        assert library.store.file(str(renamed)).id == row.id and library.store.file(str(odd)) is None
        assert library.views.thumbnail(library.search(Query(world.caption(scenes[0]), limit=1, min_score=0))[0]).exists()
        # the watcher picks up a new such file and a deletion
        w = Watcher(library, poll_interval=0.5, use_events=True, settle=0.3).start()
        try:
            newer = folder / os.fsdecode(b"neu \xfc\x80.png")
            world.render(scenes[1], 192, seed=3).save(newer, format="PNG")
            assert wait_until(lambda: (r := library.store.file(str(newer))) is not None and r.status == "ok")
            renamed.unlink()
            assert wait_until(lambda: library.store.file(str(renamed)) is None)
        finally:
            w.stop()
        # consistent; the deleted file's cached thumbnail is the only leftover (doctor --repair drops it)
        assert [f.check for f in check(library)] == ["thumbnails"]


@pytest.mark.parametrize("name", ["new\nline.jpg", " leading and trailing .jpg", "emoji 🎉📷.jpg",
                                  "ctrl\x01\x1f.jpg", ("x" * 251) + ".jpg"])
def test_awkward_names_index_and_print_one_line_each(capsys, tmp_path: Path, where, name: str) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    world.render(world.random_scene(random.Random(5)), 160).save(folder / name, format="JPEG")
    code, out, _ = cli(capsys, where, "index", str(folder), "-q")
    assert code == 0 and "1 new" in out
    code, out, _ = cli(capsys, where, "search", "a shape", "--min-score", "0")
    assert code == 0 and len(out.strip().splitlines()) == 1  # control characters are shown, not obeyed


def _stretched_tiff(path: Path, mode: str) -> None:
    """A 16-bit/float scan using only a narrow band of levels, as scanners and microscopes do."""
    rgb = world.render(world.Scene("circle", "yellow", "large", "center", "plain", "black"), 160)
    lum = np.asarray(rgb.convert("L"), dtype=np.float64) / 255.0
    if mode == "F":
        Image.fromarray((0.1 + 0.05 * lum).astype(np.float32), "F").save(path)
    else:
        arr = (1000 + 400 * lum).astype("<u2" if mode != "I;16B" else ">u2")
        Image.frombytes(mode, (160, 160), arr.tobytes()).save(path)


def test_every_image_mode_pillow_opens_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "modes"
    folder.mkdir()
    scene = world.Scene("square", "red", "large", "center", "plain", "white")
    base = world.render(scene, 160)
    modes = ["1", "L", "LA", "P", "PA", "I", "F", "CMYK", "YCbCr", "LAB", "RGBA"]  # HSV: no format stores it
    for mode in modes:
        img = base.convert("P").convert("PA") if mode == "PA" else base.convert(mode)
        img.save(folder / f"mode_{mode}.tiff")
    for mode in ("I;16", "I;16B"):
        _stretched_tiff(folder / f"scan_{mode.replace(';', '_')}.tif", mode)
    _stretched_tiff(folder / "scan_float.tif", "F")
    frames = [world.render(world.random_scene(random.Random(i)), 96) for i in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    base.resize((200, 120)).save(folder / "rotated.jpg", exif=exif)
    with Library.open(tmp_path / "lib", model=MODEL_SPEC) as lib:
        report = lib.index([folder])
        assert report.errors == 0, [(e.path, e.error) for e in lib.errors()]
        assert lib.status().photos == len(modes) + 5
        assert lib.file_info(str(folder / "rotated.jpg")).width == 120  # upright: portrait
    from indexer.media.decode import load_image, to_rgb

    hsv = np.asarray(to_rgb(base.convert("HSV")), dtype=np.int16)
    assert np.abs(hsv - np.asarray(base, dtype=np.int16)).mean() < 3
    for tif in folder.glob("scan_*.tif"):
        pixels = np.asarray(load_image(tif, 160).image.convert("L"))
        assert pixels.max() - pixels.min() > 200, tif.name  # stretched over the data's own range, not black


STAGES = {
    # stage -> (module attribute to break, how)
    "stat/hash": ("indexer.indexing.pipeline.quick_hash", OSError(5, "Input/output error")),
    "open": ("PIL.Image.open", RuntimeError("decoder crashed")),
    "metadata": ("indexer.media.decode._exif_fields", KeyError("broken tag")),
    "orientation": ("PIL.ImageOps.exif_transpose", ValueError("bad orientation")),
    "colour": ("indexer.media.decode.to_rgb", MemoryError()),
    "preprocess": ("preprocess", RuntimeError("resize failed")),
    "video": ("indexer.indexing.pictures.sample_frames", RuntimeError("demuxer lost")),
    "embed": ("encode_pixels", RuntimeError("engine failure")),
    "write": ("indexer.store.database.Store.put_file", ValueError("cannot bind")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_failure_at_any_stage_of_one_file_leaves_the_others_indexed(tmp_path: Path, monkeypatch, stage: str) -> None:
    folder = tmp_path / "p"
    scenes = world.distinct_scenes(random.Random(41), 12)
    world.write_corpus(folder, scenes, seed=41)
    world.write_video(folder / "clip.mp4", [scenes[0], scenes[1]], [2, 2])
    victim = "clip.mp4" if stage == "video" else sorted(p.name for p in folder.glob("*.jpg"))[5]
    target, exc = STAGES[stage]
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC, batch_size=4)
    emb = lib.embedder

    def breaks(real):
        def wrapper(*a, **k):
            if any(victim in str(x) for x in a) or any(victim in str(v) for v in k.values()):
                raise exc
            return real(*a, **k)
        return wrapper

    if target in ("preprocess", "encode_pixels"):
        # the victim is recognised by its decoded size; for the encoder, by a marked pixel
        Image.open(folder / victim).resize((193, 191)).save(folder / victim, format="PNG")  # no JPEG draft scaling
        real_pre, real_enc = emb.preprocess, emb.encode_pixels
        MARK = 12345.0

        def pre(img):
            px = real_pre(img)
            if img.size == (193, 191):
                if target == "preprocess":
                    raise exc
                px = px.copy()
                px[0, 0, 0] = MARK
            return px

        def enc(px):
            if target == "encode_pixels" and np.any(px[:, 0, 0, 0] == MARK):
                raise exc
            return real_enc(px)
        monkeypatch.setattr(emb, "preprocess", pre)
        monkeypatch.setattr(emb, "encode_pixels", enc)
    else:
        mod_name, attr = target.rsplit(".", 1)
        if mod_name == "indexer.store.database.Store":
            from indexer.store.database import Store

            real = Store.put_file

            def put(self, record, vectors, regions_for=()):
                if victim in record.path and record.status == "ok":
                    raise exc
                return real(self, record, vectors, regions_for)
            monkeypatch.setattr(Store, "put_file", put)
        else:
            import importlib

            mod = importlib.import_module(mod_name)
            real = getattr(mod, attr)
            if attr in ("_exif_fields", "exif_transpose", "to_rgb"):
                # called with image objects: recognise the victim through the file being opened
                opened = threading.local()
                real_open = Image.open

                def tracking_open(fp, *a, **k):
                    opened.name = str(fp)
                    return real_open(fp, *a, **k)

                def wrapper(*a, **k):
                    if victim in getattr(opened, "name", ""):
                        raise exc
                    return real(*a, **k)
                monkeypatch.setattr(Image, "open", tracking_open)
                monkeypatch.setattr(mod, attr, wrapper)
                import indexer.media.decode as dec

                if attr == "exif_transpose":
                    monkeypatch.setattr(dec.ImageOps, "exif_transpose", wrapper)
            else:
                monkeypatch.setattr(mod, attr, breaks(real))
    try:
        report = lib.index([folder])
    finally:
        monkeypatch.undo()
    if stage in ("metadata", "orientation"):  # damaged metadata: the picture is still indexed, as stored
        assert report.errors == 0 and lib.status().photos == 12
        assert lib.file_info(str(folder / victim)).taken_at is None
        lib.close()
        return
    assert report.errors == 1, [(e.path, e.error) for e in lib.errors()]
    errors = lib.errors()
    assert [Path(e.path).name for e in errors] == [victim]
    assert errors[0].error  # a reason is recorded
    assert lib.status().photos == 12 - (victim != "clip.mp4") and lib.status().videos == (victim != "clip.mp4")
    assert check(lib) == []
    lib.close()


def test_index_and_remove_folder_from_two_threads_never_fail_or_corrupt(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    world.write_corpus(a, world.distinct_scenes(random.Random(51), 60), seed=51)
    world.write_corpus(b, world.distinct_scenes(random.Random(52), 20), seed=52)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC, batch_size=4)
    lib.index([b])
    errors: list[BaseException] = []
    # Paused at its start, so the removal surely meets it under way: 60 small photos on the tiny
    # model index in about 0.1 s, between two looks of a poller.
    pause = threading.Event()
    pause.set()

    def index() -> None:
        try:
            lib.index([a], wait=True, pause=pause)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=index)
    t.start()
    assert wait_until(lambda: lib.writing._owner == t.ident)  # indexing is under way (it holds the write lock)
    threading.Timer(0.5, pause.clear).start()  # goes on while the removal waits
    lib.remove_root(b, wait=True)  # waits its turn instead of writing beside the pipeline
    t.join(120)
    assert not errors, errors
    assert [r.path for r in lib.roots()] == [str(a)]
    assert lib.status().photos == 60 and check(lib) == []
    lib.close()


def test_a_wait_for_the_write_lock_honours_cancel(tmp_path: Path) -> None:
    from indexer import WriteCancelled

    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lib.writing():
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(WriteCancelled):
        lib.retry_errors(wait=True, cancel=cancel)
    assert time.monotonic() - t0 < 2.0  # Stop never freezes behind another writer
    release.set()
    t.join()
    lib.close()


def test_a_refused_model_leaves_the_settings_unchanged(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    world.write_corpus(folder, world.distinct_scenes(random.Random(61), 4), seed=61)
    lib = tmp_path / "lib"
    assert cli(capsys, lib, "index", str(folder), "-q")[0] == 0
    before = (lib / "settings.json").read_text()
    other = tmp_path / "other-model"
    other.mkdir()
    for f in Path(MODEL_SPEC.split(":", 1)[1]).iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((other / "open_clip_config.json").read_text())
    cfg["model_cfg"]["embed_dim"] = cfg["model_cfg"].get("embed_dim", 64)  # same shape, other fingerprint
    cfg["note"] = "another model"
    (other / "open_clip_config.json").write_text(json.dumps(cfg))
    code = main(["--library", str(lib), "--model", f"local-dir:{other}", "search", "a red star"])
    err = capsys.readouterr().err
    assert code == 2 and "this library uses model" in err and "glimpse model use" in err
    assert (lib / "settings.json").read_text() == before
    code = main(["--library", str(lib), "search", "a red star"])  # no --model: still works
    assert code == 0
    code = main(["--library", str(lib), "--model", f"local-dir:{tmp_path / 'missing'}", "status"])
    capsys.readouterr()
    assert (lib / "settings.json").read_text() == before


def test_library_and_c_library_messages_go_to_the_log_not_the_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    world.write_corpus(folder, world.distinct_scenes(random.Random(71), 3), seed=71)
    # a TIFF with a tag libtiff complains about (as scanners write them)
    img = world.render(world.random_scene(random.Random(1)), 128)
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = b"\x00" * 64  # XMP declared as a byte blob full of zeros
    info[34665] = 12345678  # an EXIF IFD offset beyond the end of the file
    img.save(folder / "scan.tif", tiffinfo=info, compression="tiff_lzw")  # Pillow warns: "Corrupt EXIF data"
    # FFmpeg (inside OpenCV, C code writing to descriptor 2) reports "moov atom not found"
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + random.Random(1).randbytes(3000))
    lib = tmp_path / "lib"
    cmd = [sys.executable, "-m", "indexer.cli.main", "--library", str(lib), "--model", MODEL_SPEC, "index", str(folder), "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 3, res.stderr  # finished; one file (the video) could not be indexed
    assert res.stderr.strip().splitlines() == ["1 files could not be indexed (the others were); "
                                               "see `glimpse status --errors` for the reasons"]
    log = (lib / "glimpse.log").read_text(errors="replace")
    assert "Corrupt EXIF" in log and "moov atom not found" in log
    cmd[4] = str(tmp_path / "lib2")
    verbose = subprocess.run([*cmd[:3], "--verbose", *cmd[3:]], capture_output=True, text=True, cwd=REPO)
    assert "moov atom not found" in verbose.stderr


def test_without_network_a_missing_model_is_reported_within_seconds(tmp_path: Path) -> None:
    env = {**os.environ, "GLIMPSE_MODELS": str(tmp_path / "models"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    code = ("import time, sys\nfrom indexer.model.openclip import Embedder, ModelUnavailable\nimport open_clip, torch\n"
            "t = time.monotonic()\ntry:\n    Embedder('MobileCLIP2-S0:dfndr2b', precision='fp32')\n"
            "except ModelUnavailable as e:\n"
            "    print(round(time.monotonic() - t, 2)); print(e)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    seconds = float(res.stdout.splitlines()[0])
    assert seconds <= 3.0, res.stdout
    assert "glimpse model download" in res.stdout
