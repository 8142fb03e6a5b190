"""Reading text cheaply (issue #37): the engine chosen per machine, on the real OCR models
(RapidOCR's PP-OCR) and real pictures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from indexer.media import ocr_engine
from indexer.media.ocr import TextReader
from indexer.search.words import words_of
from tests import textworld

SEED = 9203  # used for nothing else


def _words(lines) -> Counter:
    return Counter(w for line in lines for w in words_of(line.text))


def test_the_chosen_engine_reads_what_onnx_runtime_reads(tmp_path: Path, monkeypatch) -> None:
    """Signs of every size the corpus has (24-64 px letters, turned up to 30 degrees) on photos:
    the engine measured fastest here reads the words ONNX Runtime reads, in the same run."""
    monkeypatch.setenv("GLIMPSE_ENGINES", "onnxruntime,openvino")
    pics = textworld.write_text_corpus(tmp_path / "signs", SEED, 16, textworld.photo_backgrounds(40), heights=(24, 64))
    chosen, plain = TextReader(2, cache=tmp_path), TextReader(2, engine="onnxruntime")
    found = Counter()
    both = Counter()
    for pic in pics:
        image = Image.open(pic.path).convert("RGB")
        want = _words(plain.read(image))
        found += want
        both += _words(chosen.read(image)) & want
    assert sum(found.values()) > 40
    assert sum(both.values()) >= 0.98 * sum(found.values()), (chosen.engine_name, both, found)


def test_the_engine_is_measured_once_per_machine_and_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GLIMPSE_ENGINES", "onnxruntime,openvino")
    made = []

    def make(engine: str):
        made.append(engine)
        return TextReader(2).reader_on(engine)

    first = ocr_engine.chosen(tmp_path, make)
    record = json.loads((tmp_path / ocr_engine.CHOICE_FILE).read_text())
    assert record["engine"] == first and set(record["pictures_per_s"]) == set(record["key"]["engines"])
    assert set(made) == set(record["key"]["engines"])
    made.clear()
    assert ocr_engine.chosen(tmp_path, make) == first and made == []  # the next process reads the choice
    record["key"]["rapidocr"] = "0.0"  # another RapidOCR: measured again
    (tmp_path / ocr_engine.CHOICE_FILE).write_text(json.dumps(record))
    ocr_engine.chosen(tmp_path, make)
    assert made


def test_one_allowed_engine_is_chosen_without_measuring(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GLIMPSE_ENGINES", "onnxruntime")
    assert ocr_engine.chosen(tmp_path, lambda engine: pytest.fail("nothing to measure")) == "onnxruntime"


def test_the_chosen_engine_reads_the_probe(tmp_path: Path) -> None:
    reader = TextReader(2, cache=tmp_path)
    got = " ".join(line.text for line in reader.read(Image.fromarray(ocr_engine.probe_picture())))
    assert "GLIMPSE" in got and "HOURS" in got and reader.engine_name in ("onnxruntime", "openvino")
