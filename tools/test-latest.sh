#!/usr/bin/env bash
# The version canary (make test-latest): every package of requirements.txt at the newest release the
# registry offers, pins removed, in its own .venv-latest (the pinned .venv is left alone). Runs the unit
# tests and every notebook with its asserts (nbval --nbval-lax: cells run in order, outputs are not
# compared, since new versions print other digits), then says which versions it used and what broke.
# Maintainers run it when TensorFlow or Keras release; a failure here is the next issue to write.
# Usage: tools/test-latest.sh PYTHON
set -uo pipefail
python=${1:-python3}
venv=.venv-latest
out=build/latest
mkdir -p "$out"

tools/ensure-system-packages.sh "$python" || exit 1
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || exit 1
# The same lines as requirements.txt, markers kept, versions dropped: every package, newest release.
sed -E 's/==[^;]*//' requirements.txt >"$out/requirements-unpinned.txt"
"$venv/bin/python" -m pip install --quiet --upgrade pip || exit 1
"$venv/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager \
  -r "$out/requirements-unpinned.txt" || exit 1
"$venv/bin/python" -m pip install --quiet --no-deps -e . || exit 1
# JupyterLab's and the server's settings, as make setup installs them (tests/test_environment.py checks them).
"$venv/bin/python" tools/install_jupyter_settings.py >/dev/null || exit 1

versions=$("$venv/bin/python" - <<'PY'
from importlib.metadata import PackageNotFoundError, version
for name in ["tensorflow-cpu", "tensorflow", "keras", "numpy", "matplotlib", "jupyterlab", "nbval", "pytest"]:
    try:
        print(f"  {name} {version(name)}")
    except PackageNotFoundError:
        pass
PY
)
echo "Versions in $venv:"
echo "$versions"

# test_environment's check that installed versions equal the pins applies to .venv only.
ATTENTION_LATEST=1 "$venv/bin/pytest" -p no:cacheprovider -n 2 -q tests >"$out/unit.log" 2>&1
unit=$?
"$venv/bin/pytest" -p no:cacheprovider -n 2 --dist loadfile -q --nbval-lax --nbval-current-env \
  notebooks/[0-9][0-9]_*.ipynb >"$out/notebooks.log" 2>&1
notebooks=$?

echo
echo "make test-latest, newest releases (logs in $out/):"
echo "$versions"
for part in unit notebooks; do
  echo "  $part: $(grep -E '(passed|failed|error)' "$out/$part.log" | tail -n 1 | sed 's/=//g; s/^ *//')"
  grep -E '^(FAILED|ERROR) ' "$out/$part.log" | sed 's/^/    /'
done
[ $unit -eq 0 ] && [ $notebooks -eq 0 ]
