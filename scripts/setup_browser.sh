#!/usr/bin/env bash
# Install a headless browser for the report page's browser test (tests/report/test_report_browser.py, slow tier):
#
#     bash scripts/setup_browser.sh
#
# Debian's `chromium` (and the DejaVu fonts, which have the page's → ± † ○ glyphs) from apt. Safe to run again:
# it does nothing when a chromium is there already ($XLSWEEP_CHROMIUM, else `chromium` or `chromium-browser` on
# PATH). CI (.ci/run) runs it before the slow tier, and the slow test runs it when it finds no browser.
set -euo pipefail

find_browser() {
    if [ -n "${XLSWEEP_CHROMIUM:-}" ]; then
        [ -x "$XLSWEEP_CHROMIUM" ] && echo "$XLSWEEP_CHROMIUM"
        return 0
    fi
    command -v chromium || command -v chromium-browser || true
}

found=$(find_browser)
if [ -n "$found" ]; then
    echo "[setup-browser] $found is installed ($("$found" --version 2>/dev/null | head -n 1))"
    exit 0
fi
if [ -n "${XLSWEEP_CHROMIUM:-}" ]; then
    echo "error: XLSWEEP_CHROMIUM=$XLSWEEP_CHROMIUM is not an executable; unset it to install Debian's chromium" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null; then
    echo "error: no chromium on PATH and no apt-get to install it: install chromium (or Chrome) and set" \
         "XLSWEEP_CHROMIUM=/path/to/it" >&2
    exit 2
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: installing chromium needs root or sudo" >&2; exit 2; }
    SUDO=(sudo -n)
fi
echo "[setup-browser] installing chromium and fonts-dejavu-core with apt-get (a few minutes)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
found=$(find_browser)
[ -n "$found" ] || { echo "error: apt-get finished but chromium is not on PATH" >&2; exit 1; }
echo "[setup-browser] done: $found ($("$found" --version 2>/dev/null | head -n 1))"
