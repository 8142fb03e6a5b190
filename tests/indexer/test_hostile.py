"""Hostile inputs and damaged libraries: never crash, never lose data, always explain."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from indexer import Library, Query
from indexer.base.config import VIDEO_EXTENSIONS
from indexer.upkeep.doctor import check
from tests import world
from tests.conftest import MODEL_SPEC, SHARED_DATA
from tests.fuzz import opencv_reads, pillow_opens

REPO = Path(__file__).resolve().parents[2]


def make_bad_corpus(root: Path) -> dict[str, str | None]:
    """Every kind of trouble, beside good photos. Returns name -> expected reason fragment (None: indexed)."""
    good = world.write_corpus(root / "good", world.distinct_scenes(random.Random(6), 6), seed=6)
    expect: dict[str, str | None] = {str(g.path.relative_to(root)): None for g in good}
    data = good[0].path.read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    expect["truncated.jpg"] = "truncated"
    (root / "zero.jpg").write_bytes(b"")
    expect["zero.jpg"] = "empty file"
    (root / "random.png").write_bytes(random.Random(1).randbytes(5000))
    expect["random.png"] = "not a recognisable image"
    Image.new("1", (13000, 12000)).save(root / "bomb.png")  # 156 MP, a few KB on disk
    expect["bomb.png"] = "decompression bomb"
    world.render(world.random_scene(random.Random(2)), size=1500, canvas=(16000, 1500)).save(root / "panorama.jpg")
    expect["panorama.jpg"] = None
    world.render(world.random_scene(random.Random(3)), 192).save(root / "really_a_png.jpg", format="PNG")
    expect["really_a_png.jpg"] = None
    for name in ("ünïcödé 写真.jpg", "emoji 🎉.jpg", "with space.jpg", "new\nline.jpg"):
        world.render(world.random_scene(random.Random(len(name))), 160).save(root / name)
        expect[name] = None
    (root / "loop").symlink_to(root)
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    world.render(world.random_scene(random.Random(4)), 160).save(outside / "elsewhere.jpg")
    (root / "out_link").symlink_to(outside)
    (root / "zero.mp4").write_bytes(b"")
    expect["zero.mp4"] = "empty file"
    (root / "corrupt.mov").write_bytes(b"\x00\x00\x00\x14ftypqt  " + random.Random(5).randbytes(3000))
    expect["corrupt.mov"] = "video"
    (root / "camera.nef").write_bytes(b"II*\x00" + random.Random(6).randbytes(4000))
    expect["camera.nef"] = "RAW"
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        world.render(world.random_scene(random.Random(7)), 160).save(root / "phone.heic")
        expect["phone.heic"] = None
    except Exception:  # no HEIF encoder in this build: the shared corpus covers HEIC decoding
        pass
    (root / "locked.jpg").write_bytes(data)
    (root / "locked.jpg").chmod(0)
    expect["locked.jpg"] = "permission denied"
    (root / "locked_dir").mkdir()
    world.render(world.random_scene(random.Random(8)), 160).save(root / "locked_dir" / "inside.jpg")
    (root / "locked_dir").chmod(0)
    expect["locked_dir"] = "cannot open folder"
    return expect


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch):
    """Root reads anything; make permission bits count as they do for a normal user."""
    if os.geteuid() != 0:
        return
    import builtins

    real_open, real_scandir = builtins.open, os.scandir

    def denied(path) -> bool:
        try:
            return stat.S_IMODE(os.stat(path).st_mode) == 0
        except OSError:
            return False

    def guarded_open(file, *a, **k):
        if isinstance(file, (str, Path)) and denied(file):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    def guarded_scandir(path="."):
        if denied(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)


def test_bad_inputs_are_recorded_once_with_reasons_and_everything_else_is_indexed(tmp_path: Path, as_user) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    expect = make_bad_corpus(root)
    try:
        with Library.open(tmp_path / "lib", model=MODEL_SPEC) as lib:
            report = lib.index([root])
            reasons = {str(Path(e.path).relative_to(root)): e.error for e in lib.errors()}
            ok = {str(Path(f.path).relative_to(root)) for f in lib.store.files(status="ok")}
            for name, fragment in expect.items():
                if fragment is None:
                    assert name in ok, (name, reasons.get(name))
                else:
                    assert name in reasons and fragment.lower() in reasons[name].lower(), (name, reasons.get(name))
            paths = [f.path for f in lib.store.files()]
            assert len(paths) == len(set(paths))  # each file once
            assert not any("outside" in p or "/loop/" in p for p in paths)  # links not followed
            assert report.errors == sum(1 for v in expect.values() if v)
            again = lib.index()  # a second run completes, and does not try the failed files again
            assert (again.added, again.updated, again.removed) == (0, 0, 0) and again.unchanged == len(paths) - \
                sum(1 for p in paths if lib.store.file(p).kind == "unreadable")
            assert lib.search(Query(world.caption(world.random_scene(random.Random(3))), limit=3))
            pano = lib.store.file(str(root / "panorama.jpg"))
            assert (pano.width, pano.height) == (16000, 1500)
    finally:
        (root / "locked_dir").chmod(0o755)
        (root / "locked.jpg").chmod(0o644)


def test_panorama_decodes_within_a_memory_bound(tmp_path: Path) -> None:
    """A 96 MP JPEG panorama is decoded downscaled: peak memory stays far below a full decode."""
    p = tmp_path / "pano.jpg"
    Image.new("RGB", (24000, 4000), (30, 90, 200)).save(p, quality=80)
    code = ("import resource, sys\nfrom pathlib import Path\nfrom indexer.media.decode import load_image\n"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"d = load_image(Path({str(p)!r}), 256)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024, d.image.size)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    extra_mb = float(out.stdout.split()[0])
    assert extra_mb < 100, out.stdout  # a full RGB decode would need 288 MB


def test_glimpse_never_writes_into_photo_folders(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    world.write_corpus(root, world.distinct_scenes(random.Random(9), 5), seed=9)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    with Library.open(tmp_path / "lib", model=MODEL_SPEC) as lib:
        lib.index([root])
        for h in lib.search(Query("a red star", limit=5, min_score=0)):
            lib.views.thumbnail(h)
        lib.searching.duplicates()
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert before == after
    for d in (tmp_path / "lib", tmp_path / "lib" / "thumbs"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_cli_reports_a_read_only_library_in_plain_words(tmp_path: Path, monkeypatch, capsys) -> None:
    from indexer.cli.main import main
    from indexer.store.database import Store

    def read_only(self, *a, **k):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    root = tmp_path / "photos"
    world.write_corpus(root, world.distinct_scenes(random.Random(12), 3), seed=12)
    monkeypatch.setattr(Store, "put_file", read_only)
    code = main(["--library", str(tmp_path / "lib"), "--model", MODEL_SPEC, "index", str(root), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "read-only" in err and "Traceback" not in err


def test_doctor_finds_and_repairs_damage(tmp_path: Path, capsys) -> None:
    from indexer.cli.main import main

    root = tmp_path / "photos"
    world.write_corpus(root, world.distinct_scenes(random.Random(13), 12), seed=13)
    lib_dir = tmp_path / "lib"
    with Library.open(lib_dir, model=MODEL_SPEC) as lib:
        lib.index([root])
        hits = lib.search(Query("a blue square", limit=3, min_score=0))
        for h in hits:
            lib.views.thumbnail(h)
        assert check(lib) == []
        # damage: an index entry whose vector is gone, a vector whose file is gone, a stray thumbnail
        vid = next(iter(lib.store.vector_ids()))
        lib.store.db.execute("PRAGMA foreign_keys=OFF")
        lib.store.db.execute("DELETE FROM vectors WHERE id = ?", [vid])
        lib.store.db.execute("INSERT INTO vectors (file_id, vec) VALUES (9999, ?)", [bytes(128)])
        (lib_dir / "thumbs" / "zz").mkdir(parents=True)
        (lib_dir / "thumbs" / "zz" / "stray.jpg").write_bytes(b"x")
    assert main(["--library", str(lib_dir), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "belong to no file" in out and "thumbnails" in out
    assert main(["--library", str(lib_dir), "doctor", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "repaired" in out and "still wrong" not in out
    assert main(["--library", str(lib_dir), "doctor"]) == 0
    with Library.open(lib_dir) as lib:
        assert check(lib) == []


def test_retry_after_fixing_a_file(tmp_path: Path, capsys) -> None:
    from indexer.cli.main import main

    root = tmp_path / "photos"
    root.mkdir()
    bad = root / "later.jpg"
    bad.write_bytes(b"")
    args = ["--library", str(tmp_path / "lib"), "--model", MODEL_SPEC]
    main([*args, "index", str(root), "-q"])
    errors = json.loads((capsys.readouterr(), main([*args, "status", "--errors", "--json"]),
                         capsys.readouterr().out)[2])["errors"]
    assert [e["reason"] for e in errors] == ["empty file (0 bytes)"]
    world.render(world.random_scene(random.Random(1)), 160).save(bad)
    os.utime(bad, (1_600_000_000, 1_600_000_000))
    main([*args, "status", "--retry"])
    main([*args, "index", "-q"])
    capsys.readouterr()
    main([*args, "status", "--errors", "--json"])
    assert json.loads(capsys.readouterr().out)["errors"] == []


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared media corpus not present")
def test_shared_real_world_corpus_indexes_without_crashing(tmp_path: Path) -> None:
    with Library.open(tmp_path / "lib", model=MODEL_SPEC) as lib:
        report = lib.index([SHARED_DATA])
        st = lib.status()
        assert st.photos >= 300 and st.videos >= 8, st
        for e in lib.errors():
            assert e.error and "\n" not in e.error
            # only what Pillow (videos: OpenCV) cannot open itself; RAW without rawpy keeps its hint
            p = Path(e.path)
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                assert not opencv_reads(p), (e.path, e.error)
            elif "rawpy" not in e.error and "megapixels" not in e.error:
                assert not pillow_opens(p), (e.path, e.error)
        print(f"shared corpus: {st.photos} photos, {st.videos} videos, {report.errors} errors:",
              [(Path(e.path).name, e.error) for e in lib.errors()])
        assert check(lib) == []


