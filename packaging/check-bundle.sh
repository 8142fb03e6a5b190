#!/bin/sh
# Starts the built bundle on Xvfb with a fresh library; it saves a screenshot of its window and quits.
set -e
cd "$(dirname "$0")/.."
test -x dist/glimpse/glimpse-gui || { echo "build it first: make package" >&2; exit 1; }
lib=$(mktemp -d)
rm -f docs/screenshot-bundle.png
GLIMPSE_LIBRARY="$lib" xvfb-run -a -s "-screen 0 1280x860x24" \
    dist/glimpse/glimpse-gui --screenshot "$PWD/docs/screenshot-bundle.png"
dist/glimpse/glimpse --help > /dev/null
test -s docs/screenshot-bundle.png && echo "bundle started; screenshot in docs/screenshot-bundle.png"
