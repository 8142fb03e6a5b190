"""`glimpse search` wall time from the shell at 100,000 items with MobileCLIP2-S0's architecture.

The library is real (a Glimpse store and ANN index, opened by the CLI as a user's would be);
its 100,000 vectors are synthetic (``bench_query.clustered``: CLIP-like clusters) and the
model has random weights, which measure speed faithfully. Every query is new words (no
cache helps). Baseline in the same run: what an rclip-style tool does per query (import
torch and open_clip, build the model, encode the text, one matrix product over the stored
vectors). Also prints where one search's time goes (``-X importtime`` and cProfile).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_query import clustered
from bench.bench_video import random_mobileclip_dir
from bench.common import ROOT, report, table

WORDS = ["a dog on a beach", "snow on the mountains", "a birthday cake", "red car at night", "kids playing football",
         "a cat asleep on a sofa", "sunset over the sea", "a bowl of soup", "old church tower", "a yellow kite"]


def make_library(folder: Path, n: int, model: str) -> Path:
    from indexer import Library
    from indexer.store import encode_vec

    lib = Library.open(folder, model=model, read_text=False)
    emb = lib.embedder  # records the model in the library
    vecs = clustered(n, np.random.default_rng(0))[:, : emb.dim]
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    store = lib.store
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO files (id, path, kind, status, size, mtime, width, height) VALUES (?, ?, 'photo', 'ok', 1, 1, 640, 480)",
            ((i + 1, f"/photos/{i // 1000}/{i}.jpg") for i in range(n)))
        store.db.conn.executemany("INSERT INTO vectors (id, file_id, vec, model) VALUES (?, ?, ?, ?)",
                                  ((i + 1, i + 1, encode_vec(v), store.model) for i, v in enumerate(vecs)))
    lib.search_vector(vecs[0], 5)  # builds and saves the ANN index, as after indexing
    lib.ann.save()
    np.save(folder / "baseline-vectors.npy", vecs.astype(np.float16))
    lib.close()
    return folder


def user_env() -> dict[str, str]:
    """A user's shell: Python writes its bytecode cache (this sandbox turns that off for everything)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def glimpse_once(lib: Path, words: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "indexer", "--library", str(lib), "search", words, "-n", "20"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=user_env())
    return time.perf_counter() - t


BASELINE = """
import sys, numpy as np, torch, open_clip
model, _, _ = open_clip.create_model_and_transforms("MobileCLIP2-S0", pretrained=None)
tok = open_clip.get_tokenizer("MobileCLIP2-S0")
with torch.no_grad():
    q = model.encode_text(tok([sys.argv[2]]))[0].numpy()
v = np.load(sys.argv[1]).astype(np.float32)
print(np.argsort(-(v @ q[: v.shape[1]]))[:20])
"""


def baseline_once(lib: Path, words: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASELINE, str(lib / "baseline-vectors.npy"), words], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=user_env())
    return time.perf_counter() - t


def where_time_goes(lib: Path) -> str:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "indexer", "--library", str(lib), "search",
                          "a green tent in a forest", "-n", "20"], capture_output=True, text=True, cwd=ROOT,
                         env=user_env())
    top = []
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):  # top level only
            top.append((int(parts[1]), parts[2].strip()))
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in sorted(top, reverse=True)[:8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    model = random_mobileclip_dir()
    os.environ.setdefault("GLIMPSE_MODELS", str(Path(tempfile.gettempdir()) / "glimpse-bench-models"))
    with tempfile.TemporaryDirectory() as tmp:
        lib = make_library(Path(tmp) / "lib", args.items, model)
        glimpse_once(lib, "warm the file cache")
        ours = [glimpse_once(lib, f"{WORDS[i % len(WORDS)]} {i}") for i in range(args.runs)]
        base = [baseline_once(lib, WORDS[i % len(WORDS)]) for i in range(3)]
        imports = where_time_goes(lib)
        choice = json.loads(next(Path(os.environ["GLIMPSE_MODELS"]).rglob("choice.json")).read_text())
    rows = [["glimpse search (CLI, new words each time)", statistics.median(ours), max(ours)],
            ["rclip-style: torch + open_clip per query", statistics.median(base), max(base)]]
    report(f"CLI search wall time at {args.items:,} items (MobileCLIP2-S0 architecture)",
           table(["", "p50 s", "worst s"], rows),
           f"Target: p50 <= 0.25 s. Text tower: {choice['text']} in {choice['text_engine']} "
           f"({json.dumps(choice['text_stats'])}). Largest top-level imports of one search: {imports}.")


if __name__ == "__main__":
    main()
