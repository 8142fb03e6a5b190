"""The soak: several real Glimpse processes on one library at once, and a person's files changing
under them. Used by ``tests/indexer/test_soak.py`` (short, in ``make test``) and ``bench/bench_soak.py``
(long, with its figures).

What runs, all as real processes started the way a person starts them (``python -m indexer``): a
``glimpse watch``; ``glimpse index`` runs; ``glimpse search`` in a loop (a thread of its own); ``glimpse model use`` to the
other model and back; kill -9 of random ones (the watcher is started again). Meanwhile files are
added, changed, moved and deleted, and one file crashes its image decoder (a real segmentation
fault, ``tests/indexer/test_crash.py``'s hook on every process's path). ``settle`` then lets the
library come to rest and ``check`` says what is wrong with it, if anything.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests import world
from tests.crashing import HOOK, MARK
from tests.waiting import lock_is_free, wait_until

REPO = Path(__file__).resolve().parents[1]
MODELS = (f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip'}", f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip-gap'}")
ACTIONS = ("add", "change", "move", "delete", "index", "kill_index", "switch", "kill_watcher", "kill_switch")
# What a library folder may hold at rest (anything else was left behind by a process that died).
AT_REST = {"library.db", "library.db-wal", "library.db-shm", "settings.json", "write.lock", "glimpse.log",
           "glimpse.log.1", "ann", "thumbs", "models"}


@dataclasses.dataclass
class SoakReport:
    steps: int = 0
    kills: int = 0
    searches: int = 0
    failed_searches: list[str] = dataclasses.field(default_factory=list)
    switches: int = 0
    file_changes: int = 0
    seconds: float = 0.0
    settle_seconds: float = 0.0


class Soak:
    """One soak over ``folder`` (photos in ``folder/photos``, the library in ``folder/lib``)."""

    def __init__(self, folder: Path, seed: int, photos: int = 16) -> None:
        self.folder, self.rng = folder, random.Random(seed)
        self.photos, self.lib = folder / "photos", folder / "lib"
        hook = folder / "hook"
        hook.mkdir(parents=True, exist_ok=True)
        (hook / "sitecustomize.py").write_text(HOOK)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)]), "GLIMPSE_RESIDENT": "0"}
        items = world.write_corpus(self.photos, world.distinct_scenes(self.rng, photos), seed=seed)
        self.crashing = items[1].path
        self.crashing.write_bytes(self.crashing.read_bytes() + MARK)
        self.model = 0  # the model the last switch asked for
        self.counter = 0
        self.watcher: subprocess.Popen | None = None
        self.running: list[subprocess.Popen] = []
        self.report = SoakReport()

    def glimpse(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "indexer", "--library", str(self.lib), *args]

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.glimpse(*args), env=self.env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.running.append(proc)
        return proc

    # the run ---------------------------------------------------------------------------------
    def run(self, steps: int) -> SoakReport:
        t0 = time.monotonic()
        first = subprocess.run(self.glimpse("--model", MODELS[0], "index", str(self.photos), "--no-text"),
                               env=self.env, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert first.returncode == 3, first.stderr  # finished; the crashing file set aside
        subprocess.run(self.glimpse("settings", "read_text", "off"), env=self.env, cwd=REPO, check=True,
                       capture_output=True, timeout=120)  # the soak is about processes, not OCR's speed
        self._start_watcher()
        stop = threading.Event()
        searches = threading.Thread(target=self._search_loop, args=(stop,), daemon=True)
        searches.start()
        plan = self.rng.sample(ACTIONS, len(ACTIONS))  # every kind of action once, then at random
        try:
            for action in plan + [self.rng.choice(ACTIONS) for _ in range(steps - len(plan))]:
                getattr(self, f"_{action}")()
                self.report.steps += 1
                time.sleep(self.rng.uniform(0.1, 0.6))
        finally:
            stop.set()
            searches.join()
        self.report.seconds = time.monotonic() - t0
        return self.report

    def settle(self) -> None:
        """Everything stops as a person would stop it; one last `glimpse index` brings the library to rest
        (it finishes a switch under way, too)."""
        t0 = time.monotonic()
        if self.watcher is not None:
            self.watcher.terminate()
            self.watcher.wait(120)
        for proc in self.running:
            try:
                proc.wait(300)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert wait_until(lambda: lock_is_free(self.lib), timeout=60)
        final = subprocess.run(self.glimpse("index", "--no-text"), env=self.env, cwd=REPO, capture_output=True,
                               text=True, timeout=900)
        assert final.returncode in (0, 3), final.stderr
        self.report.settle_seconds = time.monotonic() - t0

    def check(self) -> list[str]:
        """What is wrong with the library at rest: every photo present found by itself with the active model,
        exactly once; the crashing file an error row; nothing else; `glimpse doctor` content; nothing left over."""
        from indexer import Library, Query

        problems: list[str] = []
        present = sorted(str(p) for p in self.photos.rglob("*.jpg"))
        with Library.open(self.lib) as lib:
            rows = {r.path: r for r in lib.store.files()}
            if sorted(rows) != present:
                problems.append(f"rows {sorted(set(rows) ^ set(present))} differ from the files on disk")
            for path in present:
                row = rows.get(path)
                if path == str(self.crashing):
                    if row is None or row.status != "error" or "crashed the image decoder" not in (row.error or ""):
                        problems.append(f"the crashing file is not set aside: {row}")
                    continue
                probe = self.folder / "probe" / Path(path).name  # a copy outside the library: the example
                probe.parent.mkdir(exist_ok=True)  # itself is never an answer to "more like this"
                shutil.copyfile(path, probe)
                hits = [h.path for h in lib.search(Query(images=(str(probe),), limit=len(present), min_score=0.0))]
                if hits.count(path) != 1 or path not in hits[:3]:  # itself, first or among look-alikes
                    problems.append(f"{Path(path).name} is not found by itself ({hits.count(path)} times, first "
                                    f"{Path(hits[0]).name if hits else None})")
            if lib.switch.under_way:
                problems.append("a model switch is still under way after the last index run")
        doctor = subprocess.run(self.glimpse("doctor"), env=self.env, cwd=REPO, capture_output=True, text=True,
                                timeout=300)
        if doctor.returncode != 0:
            problems.append(f"glimpse doctor: {doctor.stdout}{doctor.stderr}")
        left = sorted(p.name for p in self.lib.iterdir() if p.name not in AT_REST)
        left += sorted(p.name for p in (self.lib / "ann").rglob("*") if p.name.startswith(".") or p.suffix == ".part")
        if left:
            problems.append(f"left behind in the library folder: {left}")
        return problems

    # the actions -----------------------------------------------------------------------------
    def _new_name(self) -> Path:
        self.counter += 1
        return self.photos / f"soak_{self.counter:04d}.jpg"

    def _normal_files(self) -> list[Path]:
        return sorted(p for p in self.photos.rglob("*.jpg") if p != self.crashing)

    def _add(self) -> None:
        scene = world.random_scene(self.rng)
        world.render(scene, 160, seed=self.rng.randrange(10**6)).save(self._new_name(), quality=90)
        self.report.file_changes += 1

    def _change(self) -> None:
        files = self._normal_files()
        if files:
            target = self.rng.choice(files)
            world.render(world.random_scene(self.rng), 160, seed=self.rng.randrange(10**6)).save(target, quality=90)
            self.report.file_changes += 1

    def _move(self) -> None:
        files = self._normal_files()
        if files:
            self.rng.choice(files).rename(self._new_name())
            self.report.file_changes += 1

    def _delete(self) -> None:
        files = self._normal_files()
        if len(files) > 4:
            self.rng.choice(files).unlink()
            self.report.file_changes += 1

    def _index(self) -> None:
        self.start("index", "--no-text")

    def _kill_index(self) -> None:
        proc = self.start("index", "--no-text")
        time.sleep(self.rng.uniform(0.3, 2.5))
        self._kill(proc)

    def _search_loop(self, stop: threading.Event) -> None:
        """`glimpse search` from a shell, one after another for the whole run: each must answer."""
        while not stop.is_set():
            done = subprocess.run(self.glimpse("search", "a red star", "-n", "5", "--min-score", "0"), env=self.env,
                                  cwd=REPO, capture_output=True, text=True, timeout=300)
            self.report.searches += 1
            if done.returncode != 0:
                self.report.failed_searches.append(done.stderr.strip())

    def _switch(self) -> None:
        self.model = 1 - self.model
        self.start("model", "use", MODELS[self.model], "--wait")
        self.report.switches += 1

    def _kill_switch(self) -> None:
        self._switch()
        time.sleep(self.rng.uniform(0.5, 3.0))
        self._kill(self.running[-1])

    def _kill_watcher(self) -> None:
        if self.watcher is not None:
            self._kill(self.watcher)
        self._start_watcher()

    def _start_watcher(self) -> None:
        self.watcher = subprocess.Popen(self.glimpse("watch", "--poll", "2", "--settle", "0.3"), env=self.env,
                                        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)

    def _kill(self, proc: subprocess.Popen) -> None:
        """kill -9 of a supervised run's supervisor: the run it supervised dies with it (PR_SET_PDEATHSIG)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.report.kills += 1
