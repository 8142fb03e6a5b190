#!/bin/sh
# Installs the Debian/Ubuntu packages Qt needs, or says exactly what to run.
# Does nothing on systems without dpkg (macOS, Windows, other distributions).
command -v dpkg >/dev/null 2>&1 || exit 0
missing=""
for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
    echo "installing system libraries for Qt:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null \
        || { echo "apt-get failed; install these yourself:$missing" >&2; exit 1; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
    echo "Glimpse needs these system libraries for its window:" >&2
    echo "    sudo apt-get install$missing" >&2
    echo "Run that, then run make again." >&2
    exit 1
fi
