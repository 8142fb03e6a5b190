"""Every way a person names a model: a pretrained tag, the hub, a folder, or an architecture with a weights file."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.model.openclip import ModelSpec


@pytest.mark.parametrize(("spec", "source", "name", "pretrained"), [
    ("MobileCLIP2-S0:dfndr2b", "pretrained", "MobileCLIP2-S0", "dfndr2b"),
    ("ViT-B-32", "pretrained", "ViT-B-32", None),
    ("  ViT-B-32:laion2b_s34b_b79k ", "pretrained", "ViT-B-32", "laion2b_s34b_b79k"),
    ("hf-hub:apple/MobileCLIP2-S2-OpenCLIP", "hf-hub", "apple/MobileCLIP2-S2-OpenCLIP", None),
    ("local-dir:/models/tiny", "local-dir", "/models/tiny", None),
    ("ViT-B-32:/weights/epoch_5.pt", "pretrained", "ViT-B-32", "/weights/epoch_5.pt"),
])
def test_specs_parse_and_print_back(spec: str, source: str, name: str, pretrained: str | None) -> None:
    parsed = ModelSpec.parse(spec)
    assert (parsed.source, parsed.name, parsed.pretrained) == (source, name, pretrained)
    assert ModelSpec.parse(str(parsed)) == parsed  # what a library records loads the same model again


def test_paths_are_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    assert ModelSpec.parse("./mine") == ModelSpec("local-dir", str(tmp_path / "mine"))
    assert ModelSpec.parse("mine") == ModelSpec("local-dir", str(tmp_path / "mine"))  # an existing folder
    assert ModelSpec.parse("ViT-B-32:./w.pt").pretrained == str(tmp_path / "w.pt")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ModelSpec.parse("local-dir:~/mine").name == str(tmp_path / "mine")
