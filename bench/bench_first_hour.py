"""Everything searchable in the first hour (#37): the text pass before and after, and what a
default `glimpse index` (embedding, then reading text) costs against an embed-only pipeline.

Corpora: the shared real photos (when present), generated 12 MP JPEGs of shapes (no text),
and rendered sign pictures (tests/textworld.py, 1024 x 768). Same run, same files:
* **rclip-style**: embed only (fp32 ViT-B-32 via open_clip, full decode, batch 8);
* **Glimpse embedding pass**: `Library.index` with MobileCLIP2-S0 (random weights);
* **text pass** two ways, each decoding the file as the pass does and reading it:
  before #37 (ONNX Runtime, one engine on two threads) and as the default reads now (the
  engine chosen for this machine by ``media/ocr_engine.py``, one single-threaded engine per
  core reading that many pictures at once); words found and the share of the "before" words
  the default finds. (A first look at 480 px before the full read was measured here on
  2026-12-07 and dropped: bench/RESULTS.md, docs/benchmarks.md.)
* **default index** = embedding pass + text pass (default), photos/s, and its ratio to rclip-style.

``python -m bench.bench_first_hour [--big 60]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.bench_index import baseline_rate, big_jpegs, glimpse_rate
from bench.bench_video import random_mobileclip_dir
from bench.common import SHARED, report, table


def text_pass(paths: list[Path], reader) -> tuple[float, dict[Path, Counter]]:
    """Pictures/s and the words read, decoding each file as the text pass does (``reader.readers``
    files at once, as ``indexing/text_pass.py`` hands them out)."""
    from concurrent.futures import ThreadPoolExecutor

    from indexer.media.decode import load_image
    from indexer.media.ocr import MAX_SIDE
    from indexer.search.words import words_of

    def read(p: Path) -> Counter:
        image = load_image(p, MAX_SIDE * 3 // 4).image
        return Counter(w for line in reader.read(image) for w in words_of(line.text))

    reader.read(load_image(paths[0], MAX_SIDE * 3 // 4).image)  # the models loaded (and the engine chosen) first
    start = time.perf_counter()
    with ThreadPoolExecutor(reader.readers) as pool:
        words = dict(zip(paths, pool.map(read, paths), strict=True))
    return len(paths) / (time.perf_counter() - start), words


def kept(words: dict[Path, Counter], reference: dict[Path, Counter]) -> float:
    """The share of the reference's words (with multiplicity) also found."""
    total = sum(sum(c.values()) for c in reference.values())
    both = sum(sum((words[p] & c).values()) for p, c in reference.items())
    return both / total if total else 1.0


def main() -> None:
    from indexer.base.config import model_cache_dir
    from indexer.media import ocr_engine
    from indexer.media.ocr import TextReader
    from tests import textworld

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=int, default=60, help="generated 12 MP JPEGs")
    args = ap.parse_args()
    now = TextReader(2)
    engine = ocr_engine.chosen(model_cache_dir(), now.reader_on, now.readers)
    model = random_mobileclip_dir()
    rows, text_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        corpora = [("generated 12 MP JPEGs (no text)", big_jpegs(args.big))]
        if (SHARED / "photos").is_dir():
            shared = Path(tmp) / "shared"
            shutil.copytree(SHARED / "photos", shared, ignore=shutil.ignore_patterns("*.tsv", "*.md"))
            corpora.append(("shared real photos", shared))
        signs = Path(tmp) / "signs"
        textworld.write_text_corpus(signs, 8801, 60, textworld.photo_backgrounds(60))
        corpora.append(("rendered sign pictures", signs))
        for name, folder in corpora:
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            before_rate, before = text_pass(paths, TextReader(2, engine="onnxruntime", readers=1))
            chosen_rate, chosen = text_pass(paths, TextReader(2, engine=engine))
            found = sum(sum(c.values()) for c in before.values())
            text_rows.append([name, len(paths), before_rate, chosen_rate, chosen_rate / before_rate, found,
                              kept(chosen, before)])
            if name == "rendered sign pictures":
                continue
            embed = glimpse_rate(folder, model)[0]
            rclip = baseline_rate(folder)
            default = 1 / (1 / embed + 1 / chosen_rate)
            before_default = 1 / (1 / embed + 1 / before_rate)
            rows.append([name, len(paths), rclip, embed, before_default, default, default / rclip])
    text = table(["corpus", "pictures", "text pass before #37 (ONNX Runtime) pictures/s",
                  f"default now ({now.readers} x {engine}, one thread each)", "speed-up", "words found before",
                  "share of them the default finds"], text_rows)
    text += "\n\n" + table(["corpus", "photos", "rclip-style embed only photos/s", "Glimpse embedding pass",
                            "default index before #37 (embed + text)", "default index now", "ratio to rclip-style"],
                           rows)
    report("Everything searchable in the first hour: the text pass and the default index", text,
           "Text pass = decode at 720 px (as the pass does) + RapidOCR read; before: one picture at a time on two threads, now: "
           "one picture per core at once. "
           "Default index = the embedding pass then the text pass over the same photos (what `glimpse index` does "
           "with text reading on), from the two measured rates. Targets (#37): >= 25 pictures/s on the shared photos "
           "on the AVX-512 EPYC, >= 40 on the AMX Xeon; default index >= 1.0x rclip-style on photos without text.")


if __name__ == "__main__":
    main()
