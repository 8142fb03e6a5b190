"""Peak memory with a 100k-item library: idle (model loaded, one search) and while indexing.

Each measurement runs in a fresh child process and reads its own VmHWM (peak RSS). The
library holds 100k synthetic 512-d vectors (as MobileCLIP2-S0 makes) bulk-loaded into
a real store; indexing adds generated 12 MP photos with MobileCLIP2-S0 (random weights).
The model's one-time export (first start) runs before the measurements. Baseline in
the same run: a bare Python process that loads the same model in eager torch fp32,
as an rclip-style tool holds it, and encodes one query.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, report, table

CHILD = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
mode, lib_dir, model, photos = sys.argv[1:5]
def rss():  # VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
if mode in ("torch-fp32", "export"):
    from indexer.model.openclip import Embedder
    Embedder(model, precision="fp32" if mode == "torch-fp32" else "int8").encode_texts(["a dog"])
    print(json.dumps({{"peak": rss(), "torch": "torch" in sys.modules}}))
    sys.exit()
from indexer import Library, Query
lib = Library.open(lib_dir, model=model)
if mode == "gui":  # the desktop app (offscreen Qt) on the same library, one search typed in
    import os, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from desktop.window import MainWindow
    app = QApplication([])
    win = MainWindow(lib)
    win.show()
    def wait(cond, secs=300):
        end = time.time() + secs
        while not cond() and time.time() < end:
            app.processEvents()
            time.sleep(0.01)
        assert cond(), "timed out"
    wait(lambda: win.model_ready)
    got = []
    win.searched.connect(got.append)
    win.bar.search_field.setText("a dog on a beach")
    wait(lambda: got)
    settle = time.time() + 1  # let thumbnails and the status bar catch up
    wait(lambda: time.time() > settle)
    print(json.dumps({{"peak": rss(), "torch": "torch" in sys.modules}}))
    os._exit(0)
if mode == "idle":
    lib.search(Query("a dog on a beach"))
    print(json.dumps({{"peak": rss(), "torch": "torch" in sys.modules}}))
else:
    before = rss()
    rep = lib.index([photos])
    print(json.dumps({{"peak": rss(), "before": before, "added": rep.added, "torch": "torch" in sys.modules}}))
lib.close()
"""


def child(mode: str, lib: Path, model: str, photos: Path) -> dict:
    env = {**os.environ, "GLIMPSE_MODELS": str(Path(tempfile.gettempdir()) / "glimpse-bench-models")}
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(lib), model, str(photos)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    args = ap.parse_args()
    from bench.bench_cli import make_library
    from bench.bench_index import big_jpegs
    from bench.bench_video import random_mobileclip_dir

    model = random_mobileclip_dir()
    photos = big_jpegs(60)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        make_library(lib, args.items, model)  # bench_cli's: a store with the active model's vectors and their index
        child("export", lib, model, photos)  # first start: export + quantize once (not measured)
        base = child("torch-fp32", lib, model, photos)
        idle = child("idle", lib, model, photos)
        gui = child("gui", lib, model, photos)
        busy = child("index", lib, model, photos)
    rows = [["baseline: the model in eager torch fp32, one query, nothing else", base["peak"], base["torch"]],
            [f"Glimpse idle: {args.items:,}-item library open, one search", idle["peak"], idle["torch"]],
            [f"Glimpse indexing {busy['added']} 12 MP photos into it", busy["peak"], busy["torch"]],
            ["Glimpse desktop app (Qt) on that library, one search", gui["peak"], gui["torch"]]]
    report(f"Peak memory (RSS) with {args.items:,} items",
           table(["state", "peak RSS MB", "torch imported"], rows),
           "Target: <= 600 MB idle and while indexing.")


if __name__ == "__main__":
    main()
