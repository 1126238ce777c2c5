#!/usr/bin/env bash
# Makes sure the things pip cannot install are present: Python's venv module (Debian and Ubuntu ship
# it separately, as python3-venv), Graphviz's `dot`, which keras.utils.plot_model draws with, and, with
# --browser, Debian's Chromium for the JupyterLab browser test (Playwright drives it; nothing downloads
# a browser of its own). Installs what is missing with apt-get when running as root on Debian/Ubuntu;
# otherwise says how, and fails.
# Usage: tools/ensure-system-packages.sh PYTHON [--browser]
set -euo pipefail
python=${1:-python3}
browser=${2:-}

has_venv() { "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; }
has_dot() { command -v dot >/dev/null 2>&1 && dot -V >/dev/null 2>&1; }
# The browser test takes PLAYWRIGHT_CHROMIUM when set (tests_browser/conftest.py), else `chromium`.
has_chromium() {
  local chromium=${PLAYWRIGHT_CHROMIUM:-$(command -v chromium || true)}
  [ -n "$chromium" ] && "$chromium" --version >/dev/null 2>&1
}

missing=()
has_venv || missing+=("python3-venv")
has_dot || missing+=("graphviz")
if [ "$browser" = "--browser" ]; then has_chromium || missing+=("chromium"); fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  has_venv && has_dot && { [ "$browser" != "--browser" ] || has_chromium; } && exit 0
  echo "apt-get finished, but '$python -m venv', 'dot -V' or 'chromium --version' still fails." >&2
  exit 1
fi

cat >&2 <<MSG
Missing: ${missing[*]}. Install it, then run make again:
  Debian/Ubuntu:  sudo apt-get install ${missing[*]}
  macOS:          brew install graphviz        (Homebrew's Python already has venv; for the browser
                                               test, point PLAYWRIGHT_CHROMIUM at an installed Chrome)
  conda:          conda env create -f environment.yml && conda activate deep-learning-attention
MSG
exit 1
