"""A model's first export runs in a child process, so the window's process never imports torch
(whose import and export froze every thread of it); where the child cannot run, the export
happens in-process as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from indexer.model import openclip as model
from indexer.model.engines import OnnxTowers
from tests import world
from tests.conftest import MODEL_SPEC

ROOT = Path(__file__).resolve().parents[2]


def test_a_librarys_first_start_exports_in_a_child_and_never_imports_torch(tmp_path: Path, corpus) -> None:
    target = corpus[4]
    code = f"""
import json, sys
from indexer import Library, Query
lib = Library.open({str(tmp_path / "lib")!r}, model={MODEL_SPEC!r}, read_text=False)
lib.index([{str(target.path.parent)!r}])
hits = lib.search(Query({world.caption(target.scene)!r}, limit=3))
print(json.dumps({{"first": hits[0].path, "engine": type(lib.embedder.towers).__name__,
                  "heavy": sorted(m for m in ("torch", "open_clip", "torchvision", "timm") if m in sys.modules)}}))
"""
    env = {**os.environ, "GLIMPSE_MODELS": str(tmp_path / "models")}  # nothing exported yet
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got == {"first": str(target.path), "engine": "OnnxTowers", "heavy": []}
    assert res.stderr == ""  # the child's output stays out of the terminal


def test_where_the_child_cannot_run_the_model_is_exported_here(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    emb = model.Embedder(MODEL_SPEC, precision="int8", cache=tmp_path, export_apart=True)
    assert isinstance(emb.towers, OnnxTowers) and emb.model is None  # exported, torch's copy let go
    assert (emb.folder / "runtime.json").is_file()
    again = model.Embedder(MODEL_SPEC, precision="int8", cache=tmp_path, export_apart=True)
    assert again.encode_texts(["a red star"]).shape == (1, emb.dim)


def test_a_frozen_bundle_starts_its_own_binary_to_export(tmp_path: Path, monkeypatch) -> None:
    """As packaging/entry_gui.py runs in the bundle: the binary, asked with --export-model, exports."""
    binary = tmp_path / "glimpse-gui"
    binary.write_text(f'#!/bin/sh\nexec {sys.executable} {ROOT / "packaging" / "entry_gui.py"} "$@"\n')
    binary.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(binary))

    def not_here(*_: object) -> None:
        raise AssertionError("exported in this process")

    monkeypatch.setattr(model.Embedder, "_load_torch", not_here)
    emb = model.Embedder(MODEL_SPEC, precision="int8", cache=tmp_path / "models", export_apart=True)
    assert isinstance(emb.towers, OnnxTowers) and emb.encode_texts(["a red star"]).shape == (1, emb.dim)


def test_a_model_remembered_as_unexportable_starts_no_child(tmp_path: Path, monkeypatch) -> None:
    """Its export is done (impossible): every start would otherwise pay a child importing torch."""
    folder = model.Embedder(MODEL_SPEC, cache=tmp_path).folder
    folder.mkdir(parents=True)
    (folder / "choice.json").write_text(json.dumps({"error": "RuntimeError: an operator the exporter lacks"}))
    started: list[str] = []
    monkeypatch.setattr(model, "export_in_child", lambda spec, *_: started.append(spec) or True)
    emb = model.Embedder(MODEL_SPEC, precision="int8", cache=tmp_path, export_apart=True)
    assert started == [] and isinstance(emb.towers, model.TorchTowers)
    (folder / "choice.json").unlink()  # not exported: the child is asked
    monkeypatch.setattr(model.Embedder, "_load_torch", lambda *_: None)
    model.Embedder(MODEL_SPEC, precision="int8", cache=tmp_path, export_apart=True)
    assert started == [MODEL_SPEC]
