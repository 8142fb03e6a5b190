"""A thousand hostile files: the run completes, every file is accounted for once, nothing is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from indexer import Library
from indexer.base.config import VIDEO_EXTENSIONS
from tests.conftest import MODEL_SPEC
from tests.fuzz import opencv_reads, pillow_opens, snapshot, write_fuzz_corpus

REPO = Path(__file__).resolve().parents[2]
FILES = 1000
# Peak RSS growth of `glimpse index` over the corpus, above the same process with the model loaded
# (so the bound is about the files, not about which engine the timing picked for the tiny model).
RSS_GROWTH_BOUND_MB = 250
RUNNER = ("import resource, sys\nfrom indexer.model.openclip import Embedder\n"
          "Embedder(sys.argv[sys.argv.index('--model') + 1], precision='int8')\n"
          "print(f'LOADED_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\n"
          "from indexer.cli.main import main\ncode = main(sys.argv[1:])\n"
          "print(f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\nsys.exit(code)\n")


def test_a_thousand_hostile_files_never_stop_indexing(tmp_path: Path) -> None:
    env = {**os.environ, "GLIMPSE_MODELS": str(tmp_path / "models")}  # a cache of its own, exported below
    empty = tmp_path / "empty"
    empty.mkdir()
    warm = [sys.executable, "-m", "indexer.cli.main", "--library", str(tmp_path / "warm"), "--model", MODEL_SPEC, "index",
            str(empty), "-q"]
    subprocess.run(warm, check=True, capture_output=True, cwd=REPO, env=env)  # the export: not in the measured run
    corpus = tmp_path / "corpus"
    files = write_fuzz_corpus(corpus, FILES, seed=2026)
    before = snapshot(corpus)
    lib = tmp_path / "lib"
    cmd = [sys.executable, "-c", RUNNER, "--library", str(lib), "--model", MODEL_SPEC, "index", str(corpus), "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300, errors="replace", env=env)

    assert res.returncode == 3, res.stderr  # finished; some files could not be indexed
    assert "Traceback" not in res.stderr and "Error" not in res.stderr, res.stderr[:3000]
    assert len(res.stderr.strip().splitlines()) == 1 and "could not be indexed" in res.stderr, res.stderr[:3000]
    loaded, peak = (int(res.stdout.split(f"{k}_KB ")[1].split()[0]) / 1024 for k in ("LOADED", "MAXRSS"))
    print(f"RSS loaded {loaded:.0f} MB, peak {peak:.0f} MB")
    assert peak - loaded < RSS_GROWTH_BOUND_MB, (loaded, peak)
    assert snapshot(corpus) == before  # byte for byte, names and mtimes too

    with Library.open(lib) as library:
        rows = library.store.files()
        paths = [os.fsencode(r.path) for r in rows]
        assert len(paths) == len(set(paths)) == FILES  # each file exactly once
        assert set(paths) == {os.fsencode(str(f)) for f in files}
        assert {r.status for r in rows} == {"ok", "error"}
        errors = [r for r in rows if r.status == "error"]
        assert all(r.error for r in errors)
        assert sum(r.status == "ok" for r in rows) >= FILES // 3
        # only what Pillow (videos: OpenCV) cannot open itself is an error; RAW names keep their hint
        for r in errors:
            p = Path(r.path)
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                assert not opencv_reads(p), (r.path, r.error)
            elif "megapixels" not in r.error:  # refused as a decompression bomb, on purpose
                assert not pillow_opens(p), (r.path, r.error)
