#!/bin/sh
# Starts the built bundle on Xvfb with a fresh library and model cache using the committed test
# model; the app loads the model (first start: export, quantize and choose engines), saves a
# screenshot of its window and quits. Then the bundled CLI indexes and searches a few photos with
# the same model (second start: the torch-free runtime), and the export is checked to be complete.
set -e
cd "$(dirname "$0")/.."
test -x dist/glimpse/glimpse-gui || { echo "build it first: make package" >&2; exit 1; }
lib=$(mktemp -d)
GLIMPSE_MODELS=$(mktemp -d)
export GLIMPSE_MODELS
printf '{"model": "local-dir:%s/tests/assets/tiny-clip"}\n' "$PWD" > "$lib/settings.json"
rm -f docs/screenshot-bundle.png
GLIMPSE_LIBRARY="$lib" xvfb-run -a -s "-screen 0 1280x860x24" \
    dist/glimpse/glimpse-gui --screenshot "$PWD/docs/screenshot-bundle.png"
photos=$(mktemp -d)
.venv/bin/python -c "import random, sys; from pathlib import Path; sys.path.insert(0, '.'); from tests import world; \
world.write_corpus(Path('$photos'), world.distinct_scenes(random.Random(1), 5), seed=1)"
GLIMPSE_LIBRARY="$lib" dist/glimpse/glimpse index "$photos" -q
GLIMPSE_LIBRARY="$lib" dist/glimpse/glimpse search "a red star" -n 3
.venv/bin/python - "$GLIMPSE_MODELS" <<'PY'
import json, sys
from pathlib import Path
folder = next(Path(sys.argv[1], "onnx").iterdir())
choice = json.loads((folder / "choice.json").read_text())
runtime = json.loads((folder / "runtime.json").read_text())
assert "error" not in choice, choice["error"]
assert runtime["preprocess"] and runtime["tokenizer"], runtime
print(f"export complete: image {choice['image']} in {choice['image_engine']}, text {choice['text']} in {choice['text_engine']}")
PY
test -s docs/screenshot-bundle.png && echo "bundle started; screenshot in docs/screenshot-bundle.png"
