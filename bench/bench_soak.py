"""The long soak (tests/soak.py): a watcher, index runs, searches in a loop, model switches and back,
kill -9 of random ones, on one library while files are added, changed, moved and deleted and one
crashes its decoder. Reports what was done, how long the library took to come to rest, and what
was wrong with it then (target: nothing; every failed search counted). The short soak is in
``make test`` (tests/indexer/test_soak.py).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import report, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from tests.soak import Soak

    with tempfile.TemporaryDirectory() as tmp:
        soak = Soak(Path(tmp), seed=args.seed, photos=args.photos)
        r = soak.run(args.steps)
        soak.settle()
        problems = soak.check()
        photos = sum(1 for _ in soak.photos.rglob("*.jpg"))
    rows = [[r.steps, r.kills, r.switches, r.file_changes, r.searches, len(r.failed_searches), r.seconds,
             r.settle_seconds, photos, len(problems)]]
    text = table(["steps", "kill -9", "model switches", "files added/changed/moved/deleted", "searches",
                  "failed searches", "seconds", "to rest (s)", "photos at the end", "problems at rest"], rows)
    if problems or r.failed_searches:
        text += "\n\n" + "\n".join(f"- {p}" for p in [*problems, *r.failed_searches])
    report("Soak: several processes on one library", text,
           f"{args.photos} photos to start, seed {args.seed}; one crashes its image decoder (a real SIGSEGV). "
           "Target: no problem at rest, no failed search.")


if __name__ == "__main__":
    main()
