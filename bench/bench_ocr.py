"""The text pass (OCR): pictures per second with and without text, its memory, and that it
costs the embedding pass nothing.

* Corpora: the shared real photos (../shared/data/photos, few with text) and rendered
  text pictures (tests/textworld.py: 1024 x 768, 1-3 lines on photos and plain backgrounds).
* Same-run baseline: RapidOCR called as its README shows (default settings, the picture at
  full size) on the same files, so "cheap first" (detection on a picture scaled to
  ``ocr.MAX_SIDE``, recognition only where text was found) is measured, not assumed.
* The embedding pass is timed with text reading off and on: the text pass runs after it,
  so its photos/s must be the same.
* Video: the shared videos with ``read_text_video`` on (off by default).

``python -m bench.bench_ocr``
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ROOT, report, table

MODEL = f"local-dir:{ROOT / 'tests' / 'assets' / 'tiny-clip'}"
SHARED = ROOT.parent / "shared" / "data"


class RssPeak:
    """Peak resident memory of this process while a block runs (sampled every 20 ms)."""

    def __enter__(self) -> RssPeak:
        self.peak = self.base = _rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mb())


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _plain_rapidocr(paths: list[Path]) -> tuple[float, int]:
    """RapidOCR with its defaults on each whole picture: (seconds, pictures with text)."""
    import numpy as np
    from PIL import Image
    from rapidocr import RapidOCR

    eng = RapidOCR(params={"Global.log_level": "error"})
    found = 0
    t = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            out = eng(np.asarray(im.convert("RGB")))
        found += bool(out.txts)
    return time.perf_counter() - t, found


def _run(folder: Path, lib_dir: Path, read_text: bool, video: bool = False) -> dict[str, float]:
    from indexer import Library

    with Library.open(lib_dir, model=MODEL, read_text=read_text, read_text_video=video) as lib:
        lib.embedder  # noqa: B018 - model loaded outside the timed part
        t = time.perf_counter()
        rep = lib.index([folder])
        embed_s = time.perf_counter() - t
        with RssPeak() as mem:
            text = lib.read_text()
        files = lib.status().photos + (lib.status().videos if video else 0)
    return {"files": files, "embed_s": embed_s, "embed_rate": rep.added / max(embed_s, 1e-9),
            "text_s": text.seconds, "text_rate": text.read / max(text.seconds, 1e-9), "read": text.read,
            "with_text": text.with_text, "lines": text.lines, "rss_base": mem.base, "rss_peak": mem.peak}


def main() -> None:
    from indexer.indexing.text_pass import MAX_VIDEO_READS
    from indexer.media.ocr import MAX_SIDE
    from tests import textworld

    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        corpora: list[tuple[str, Path]] = []
        if (SHARED / "photos").is_dir():
            shared = tmp_p / "shared"
            shutil.copytree(SHARED / "photos", shared, ignore=shutil.ignore_patterns("*.tsv", "*.md"))
            corpora.append(("shared real photos", shared))
        rendered = tmp_p / "rendered"
        textworld.write_text_corpus(rendered, 8801, 80, textworld.photo_backgrounds(60))
        corpora.append(("rendered text pictures", rendered))
        for name, folder in corpora:
            off = _run(folder, tmp_p / f"lib-off-{name}", read_text=False)
            on = _run(folder, tmp_p / f"lib-on-{name}", read_text=True)
            pics = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            plain_s, plain_found = _plain_rapidocr(pics)
            rows.append([name, on["files"], round(off["embed_rate"], 1), round(on["embed_rate"], 1),
                         round(on["text_rate"], 2), f"{on['with_text']} ({on['lines']} lines)",
                         round(len(pics) / plain_s, 2), plain_found, len(pics),
                         round(on["rss_peak"] - on["rss_base"]), round(on["rss_peak"])])
        if (SHARED / "videos").is_dir():
            vids = tmp_p / "videos"
            shutil.copytree(SHARED / "videos", vids)
            v = _run(vids, tmp_p / "lib-video", read_text=True, video=True)
            notes.append(f"Video (read_text_video on): {v['read']} of the shared videos read in {v['text_s']:.1f} s "
                         f"({v['text_s'] / max(v['read'], 1):.2f} s per video, at most {MAX_VIDEO_READS} frames each), "
                         f"text found in {v['with_text']}; peak RSS {v['rss_peak']:.0f} MB.")
    text = table(["corpus", "files", "embed pass photos/s, text off", "embed pass photos/s, text on",
                  "text pass pictures/s", "pictures with text", "plain RapidOCR pictures/s (same files)",
                  "plain: with text", "plain: pictures", "text pass RSS growth MB", "peak RSS MB"], rows)
    report("Reading text in pictures (OCR pass)", text,
           f"Text pass: detection on the picture scaled to a long side of {MAX_SIDE} px, recognition only in the boxes "
           "found, one thread pool of ONNX Runtime. The embedding pass runs first and is timed alone in both columns "
           "(the text pass starts when it has finished). Plain RapidOCR = its defaults on the full picture, same run, "
           "same files (PNG/JPEG only). " + " ".join(notes))


if __name__ == "__main__":
    main()
