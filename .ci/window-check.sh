#!/usr/bin/env bash
# Starts `ibex-updater --demo` in a real window under Xvfb, waits for its first frame, takes a
# screenshot ($WINDOW_SHOT, target/window-demo.png by default) and fails if the window came up
# blank.
# Usage: .ci/window-check.sh [command that runs ibex-updater]    (e.g. `wine path\to\ibex-updater.exe`)
set -euo pipefail
if [ $# -gt 0 ]; then updater=("$@"); else updater=(target/release/ibex-updater); fi
shot=${WINDOW_SHOT:-target/window-demo.png}
display=:97
data=$(mktemp -d)
trap 'kill "$app" "$xvfb" 2>/dev/null || true; rm -rf "$data"' EXIT

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=$display
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

IBEX_UPDATER_DATA_DIR=$data IBEX_UPDATER_LOG=info "${updater[@]}" --demo >/dev/null 2>&1 &
app=$!
log=$data/logs/ibex-updater.log
for _ in $(seq 600); do
    grep -q "first frame presented" "$log" 2>/dev/null && break
    kill -0 "$app" 2>/dev/null || { echo "the window exited early:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
done
grep -q "first frame presented" "$log" || { echo "no first frame after 60 s" >&2; cat "$log" >&2; exit 1; }
# Let the instrument list arrive, then look.
sleep 2
import -window root "$shot"
colours=$(convert "$shot" -format %k info:)
grep "wgpu adapter\|Software rasterizer" "$log" | head -n 2 || true
if [ "$colours" -lt 50 ]; then
    echo "the window looks blank: only $colours colours in $shot" >&2
    exit 1
fi
echo "the window drew its first frame; the screenshot $shot has $colours colours"
