"""Which models exist, which are on this computer, and getting one here (online or not).

Downloads go through open_clip (Hugging Face hub, with its progress bars) into the
model cache (``config.model_cache_dir``: the platform's cache folder, or
``GLIMPSE_MODELS``). For offline machines a model downloaded elsewhere is imported:
either an open_clip hub-layout folder or a bare checkpoint file plus its
architecture name; both become a folder in the cache that ``local-dir:`` loads.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from indexer.base.config import DEFAULT_MODEL, Settings, model_cache_dir

# What we know from the MobileCLIP papers and open_clip's results tables; the rest
# of open_clip's catalogue is listed without notes.
NOTES = {
    "MobileCLIP2-S0:dfndr2b": ("~43M params, ~170 MB", "default: fastest on a laptop CPU, good quality"),
    "MobileCLIP2-S2:dfndr2b": ("~99M params, ~400 MB", "better quality, about 2x slower to index"),
    "MobileCLIP2-B:dfndr2b": ("~150M params, ~600 MB", "best of the family; about 4x slower"),
    "MobileCLIP-S1:datacompdr": ("~85M params, ~340 MB", "first-generation MobileCLIP"),
    "ViT-B-32:laion2b_s34b_b79k": ("~151M params, ~600 MB", "rclip's default; slower than MobileCLIP2-S0"),
}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    spec: str
    size: str
    note: str
    cached: bool


def imported_dir() -> Path:
    return model_cache_dir() / "imported"


def list_models(all_models: bool = False) -> list[ModelEntry]:
    """Recommended models first, then (if ``all_models``) everything open_clip offers."""
    import open_clip

    specs = list(NOTES)
    if all_models:
        specs += [f"{n}:{t}" for n, t in open_clip.list_pretrained() if f"{n}:{t}" not in NOTES]
    cached = _cached_names()
    out = [ModelEntry(s, *NOTES.get(s, ("", "")), cached=s.split(":")[0].lower() in cached) for s in specs]
    for folder in sorted(imported_dir().glob("*")) if imported_dir().is_dir() else []:
        if (folder / "open_clip_config.json").exists():
            out.append(ModelEntry(f"local-dir:{folder}", _size(folder), "imported", True))
    return out


def _cached_names() -> set[str]:
    root = model_cache_dir()
    if not root.is_dir():
        return set()
    names = set()
    for p in root.glob("models--*"):
        names.add(p.name.split("--")[-1].lower())
        names.update(part.lower() for part in p.name.split("--"))
    return {n.replace("timm-", "").replace("apple-", "") for n in names}


def _size(folder: Path) -> str:
    mb = sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
    return f"{mb:.0f} MB"


def download_model(spec: str = DEFAULT_MODEL) -> str:
    """Fetch a model's weights into the cache (progress on stderr); returns the spec to use."""
    from indexer.model.openclip import Embedder

    # open_clip downloads into model_cache_dir(); loading at the default precision also
    # makes the int8 export now, so the app's first start with this model is quick.
    Embedder(spec, precision=Settings().precision)
    return spec


def import_model(path: Path, arch: str | None = None, name: str | None = None) -> str:
    """Copy a downloaded model into the cache and return its ``local-dir:`` spec.

    ``path`` is an open_clip hub-layout folder (``open_clip_config.json`` + weights),
    or a checkpoint file (.safetensors/.bin/.pt) with ``arch`` naming its open_clip
    architecture (e.g. ``MobileCLIP2-S0``).
    """
    import open_clip

    path = Path(path).expanduser().resolve()
    if path.is_dir():
        if not (path / "open_clip_config.json").is_file():
            raise ValueError(f"{path} has no open_clip_config.json; give a checkpoint file and --arch instead")
        dest = imported_dir() / (name or path.name)
        if dest != path:
            shutil.copytree(path, dest, dirs_exist_ok=True)
    elif path.is_file():
        if not arch:
            raise ValueError("a checkpoint file needs --arch, the open_clip architecture it belongs to "
                             "(see `glimpse model list --all`)")
        cfg = open_clip.get_model_config(arch)
        if cfg is None:
            raise ValueError(f"unknown architecture {arch!r}")
        dest = imported_dir() / (name or f"{arch}-{path.stem}")
        dest.mkdir(parents=True, exist_ok=True)
        target = "open_clip_model.safetensors" if path.suffix == ".safetensors" else "open_clip_pytorch_model.bin"
        shutil.copy2(path, dest / target)
        pre = {k: v for k, v in (cfg.get("vision_cfg", {}) or {}).items() if k in ("image_size",)}
        (dest / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": pre}, indent=2))
    else:
        raise ValueError(f"{path} does not exist")
    from indexer.model.openclip import Embedder

    spec = f"local-dir:{dest}"
    Embedder(spec, precision=Settings().precision)  # fails now, with a clear message, not at the first search
    return spec
