# Two commands for a newcomer: `make run` (the app) and `make test` (the tests).
# Each creates .venv and installs what it needs; re-running installs nothing new.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch wheels: the default pin installs from PyPI. For a CPU-only build without the
# multi-GB CUDA libraries set TORCH_INDEX to PyTorch's CPU wheel index (see README).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX ?=
STAMP := $(VENV)/.glimpse-installed
# Qt's xcb platform and QtMultimedia need these Debian/Ubuntu packages on a bare system.
QT_DEBS := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
           libxcb-shape0 libxcb-randr0 libxkbcommon-x11-0 libegl1 libgl1 libdbus-1-3 libpulse0 \
           libfontconfig1
TEST_DEBS := xvfb

.PHONY: run test bench lint sysdeps sysdeps-test model package package-check screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP) sysdeps
	$(BIN)/glimpse-gui

test: $(STAMP) sysdeps-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider -n 2
	$(BIN)/ruff check indexer desktop tests bench

bench: $(STAMP)
	$(BIN)/pip install -q py-spy pyinstrument faiss-cpu usearch
	$(BIN)/python -m bench.run_all $(BENCH)

lint: $(STAMP)
	$(BIN)/ruff check indexer desktop tests bench

# Regenerates tests/assets/tiny-clip (about 15 minutes on two cores); VARIANT=gap, conv, weak or wide the other test models.
model: $(STAMP)
	$(BIN)/python -m tests.assets.make_tiny_clip $(if $(VARIANT),--variant $(VARIANT))

sysdeps:
	@sh packaging/ensure-debs.sh $(QT_DEBS)

sysdeps-test:
	@sh packaging/ensure-debs.sh $(QT_DEBS) $(TEST_DEBS)

# A standalone bundle in dist/glimpse/ (see packaging/README.md).
package: $(STAMP)
	$(BIN)/pip install -q pyinstaller
	$(BIN)/pyinstaller --noconfirm --clean --distpath dist --workpath build packaging/glimpse.spec

# Start the built bundle on a virtual screen and take a screenshot of it.
package-check: sysdeps-test
	sh packaging/check-bundle.sh

# The README screenshots of the real window, under Xvfb.
screenshots: $(STAMP) sysdeps-test
	xvfb-run -a -s "-screen 0 1400x900x24" $(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) build dist *.egg-info
