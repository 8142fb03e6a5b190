"""Settings and where things live on disk.

Settings are a frozen dataclass stored as JSON inside the library, so the CLI, the
GUI and a background watcher opened on the same library agree without a global.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from indexer.base.environment import Env, value
from indexer.base.errors import LibraryError
from indexer.base.location import Location, is_server, server_location

DEFAULT_MODEL = "MobileCLIP2-S0:dfndr2b"
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif",
                              ".avif", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"})
JUNK_NAMES = frozenset({"@eaDir", ".thumbnails", "$RECYCLE.BIN", "System Volume Information", "__MACOSX"})
# Prompt ensembles are supported (Settings.templates) but off by default: on the test
# model they did not help (bench/RESULTS.md, "Prompt ensembles"), so we do not pay for them.
DEFAULT_TEMPLATES = ("{}",)
SETTINGS_VERSION = 2  # 2: no relevance cutoff and no hubness correction by default (version 1: 0.5, 0.5)


# What each computer of a server library decides for itself (its cores and memory); the rest is the library's.
COMPUTER_SETTINGS = frozenset({"precision", "threads", "decode_workers", "batch_size"})


@dataclasses.dataclass(frozen=True)
class Settings:
    """User-adjustable choices, persisted in the library's ``settings.json``."""

    model: str = DEFAULT_MODEL
    precision: str = "int8"  # see quantize.py: per tower, int8 only where it is faster and faithful
    exclude: tuple[str, ...] = ()
    threads: int = 0  # 0: one per physical core
    decode_workers: int = 2
    batch_size: int = 8  # MobileCLIP2-S0 under ONNX Runtime: as fast as 32 per image, 260 MB less peak memory
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    min_score: float | None = None  # a cutoff on the calibrated relevance; None: only nonsense is refused
    # Hubness correction (rank.py) is off by default: on all three test models it lowered
    # partial-description mAP and composed R@1 (e.g. 0.40 vs 0.83 on the large-gap model).
    hub_alpha: float = 0.0
    video_interval: float = 2.0
    video_max_frames: int = 600
    follow_symlinks: bool = False
    read_text: bool = True  # the text pass (OCR) after indexing; off: no text search, nothing read
    read_text_video: bool = False  # also one frame per video moment (slower; docs/benchmarks.md)
    # Region vectors for large photos (regions.py): finds small things; off by default because
    # indexing a large photo then costs ~6 encoder runs instead of 1 (docs/benchmarks.md).
    regions: bool = False
    settings_version: int = 2

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_shared(self, text: str | None) -> Settings:
        """These settings with a server library's shared ones (``shared_json``, kept in its database):
        every computer uses the library's choices but keeps its own ``COMPUTER_SETTINGS``."""
        if not text:
            return self
        shared = Settings.from_json(text)
        return self.replace(**{f.name: getattr(shared, f.name) for f in dataclasses.fields(self)
                               if f.name not in COMPUTER_SETTINGS})

    def shared_json(self) -> str:
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if k not in COMPUTER_SETTINGS})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Read settings, ignoring keys a newer or older Glimpse wrote."""
        raw = json.loads(text)
        if "settings_version" not in raw:  # version 1's defaults lost to a plain app; not choices the user made
            if raw.get("min_score") == 0.5:
                del raw["min_score"]
            if raw.get("hub_alpha") == 0.5:
                del raw["hub_alpha"]
        raw["settings_version"] = SETTINGS_VERSION
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names}
        return cls(**kept)


LIBRARY_MARKERS = frozenset({"library.db", "settings.json"})  # what makes a folder a Glimpse library
BEFORE_A_LIBRARY = frozenset({"glimpse.log", "glimpse.log.1"})  # written before the library itself is made


def foreign_folder(folder: Path) -> bool:
    """A folder that holds files and is not a Glimpse library: it is never used as one (nothing in it is ours)."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:  # missing (it will be made), or not a folder (making it says so)
        return False
    return not names & LIBRARY_MARKERS and bool(names - BEFORE_A_LIBRARY)


def prepare_library_folder(folder: Path) -> None:
    """The library folder and its subfolders, private to the user (0700 whatever the umask, and
    whoever made the folder: paths, places and text read from pictures are in it). A folder that
    holds other things is refused, untouched."""
    if foreign_folder(folder):
        raise LibraryError(f"{folder} is not a Glimpse library and is not empty; choose a new or empty folder "
                           "for the library (nothing in this one was changed)")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # mkdir's mode is filtered by the umask, and a folder made beforehand keeps its own
    for sub in ("ann", "thumbs"):
        (folder / sub).mkdir(exist_ok=True, mode=0o700)
        (folder / sub).chmod(0o700)


def _data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("glimpse", appauthor=False))


def library_location(where: str | Path | None) -> Location:
    """``--library`` as given (a folder or a ``postgresql://`` address), else ``GLIMPSE_LIBRARY``,
    else the per-user data directory."""
    where = where or value(Env.LIBRARY)
    if is_server(where):
        return server_location(str(where), _data_dir())
    return Location(Path(where).expanduser() if where else _data_dir() / "library")


def model_cache_dir() -> Path:
    """Where downloaded weights are kept (``GLIMPSE_MODELS`` moves it)."""
    env = value(Env.MODELS)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("glimpse", appauthor=False)) / "models"


def physical_cores() -> int:
    """Physical cores, which is what torch's intra-op threads should match."""
    try:
        cores = set()
        text = Path("/proc/cpuinfo").read_text()
        for block in text.split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
            fields = {k.strip(): v.strip() for k, v in fields.items()}
            if "core id" in fields:
                cores.add((fields.get("physical id"), fields["core id"]))
        if cores:
            return len(cores)
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)


def format_seconds(t: float | None) -> str:
    """1:05 or 1:02:05, for ETAs and video timestamps ("-" when unknown)."""
    if t is None:
        return "-"
    m, s = divmod(int(t), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
