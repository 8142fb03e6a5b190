#!/bin/sh
# Starts the built bundle on Xvfb with a fresh library using the committed test model; the app
# loads the model, saves a screenshot of its window and quits. Then the bundled CLI indexes and
# searches a few photos with the same model.
set -e
cd "$(dirname "$0")/.."
test -x dist/glimpse/glimpse-gui || { echo "build it first: make package" >&2; exit 1; }
lib=$(mktemp -d)
printf '{"model": "local-dir:%s/tests/assets/tiny-clip", "precision": "fp32"}\n' "$PWD" > "$lib/settings.json"
rm -f docs/screenshot-bundle.png
GLIMPSE_LIBRARY="$lib" xvfb-run -a -s "-screen 0 1280x860x24" \
    dist/glimpse/glimpse-gui --screenshot "$PWD/docs/screenshot-bundle.png"
photos=$(mktemp -d)
.venv/bin/python -c "import random, sys; from pathlib import Path; sys.path.insert(0, '.'); from tests import world; \
world.write_corpus(Path('$photos'), world.distinct_scenes(random.Random(1), 5), seed=1)"
GLIMPSE_LIBRARY="$lib" dist/glimpse/glimpse index "$photos" -q
GLIMPSE_LIBRARY="$lib" dist/glimpse/glimpse search "a red star" -n 3
test -s docs/screenshot-bundle.png && echo "bundle started; screenshot in docs/screenshot-bundle.png"
