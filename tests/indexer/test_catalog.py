"""Models offline: list, import a folder or a checkpoint file, and a clear word when offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.cli.main import main
from tests.conftest import TINY_MODEL


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GLIMPSE_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_list_shows_recommended_models_and_imports(cache: Path, tmp_path: Path, capsys) -> None:
    assert main(["--library", str(tmp_path / "lib"), "model", "import", str(TINY_MODEL), "--name", "tiny"]) == 0
    spec = capsys.readouterr().out.split("imported as ")[1].split(";")[0].strip()
    assert spec == f"local-dir:{cache / 'imported' / 'tiny'}"
    assert main(["--library", str(tmp_path / "lib"), "model", "list"]) == 0
    out = capsys.readouterr().out
    assert "MobileCLIP2-S0:dfndr2b" in out and "default" in out
    assert f"* {spec}" in out


def test_imported_checkpoint_file_with_its_architecture_searches(cache: Path, tmp_path: Path, capsys) -> None:
    import open_clip

    cfg = json.loads((TINY_MODEL / "open_clip_config.json").read_text())["model_cfg"]
    arch_file = tmp_path / "configs" / "TinyWorld-ViT.json"
    arch_file.parent.mkdir()
    arch_file.write_text(json.dumps(cfg))
    open_clip.add_model_config(arch_file)  # as if open_clip shipped this architecture
    ckpt = TINY_MODEL / "open_clip_model.safetensors"
    lib = tmp_path / "lib"
    assert main(["--library", str(lib), "model", "import", str(ckpt), "--arch", "TinyWorld-ViT", "--use"]) == 0
    out = capsys.readouterr().out
    assert "this library now uses" in out
    from tests import world

    photos = world.write_corpus(tmp_path / "p", world.distinct_scenes(__import__("random").Random(1), 8), seed=1)
    assert main(["--library", str(lib), "index", str(tmp_path / "p"), "-q"]) == 0
    capsys.readouterr()
    assert main(["--library", str(lib), "search", world.caption(photos[2].scene), "-n", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["path"] == str(photos[2].path)


def test_checkpoint_without_architecture_is_explained(cache: Path, tmp_path: Path, capsys) -> None:
    code = main(["--library", str(tmp_path / "lib"), "model", "import", str(TINY_MODEL / "open_clip_model.safetensors")])
    assert code == 2 and "--arch" in capsys.readouterr().err


def test_offline_download_says_how_to_import(cache: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GLIMPSE_MODELS": str(cache)}
    res = subprocess.run([sys.executable, "-m", "indexer.cli.main", "--library", str(tmp_path / "lib"), "model",
                          "download", "MobileCLIP2-S0:dfndr2b"], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 2
    assert "glimpse model download" in res.stderr and "local-dir:" in res.stderr
    assert "Traceback" not in res.stderr
