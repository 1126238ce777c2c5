#!/usr/bin/env bash
# The portability check: nbval on every notebook as other CPUs would run it, against the same committed
# outputs. TensorFlow's matrix products (oneDNN's sgemm, also behind Eigen's contractions) pick their
# code path by instruction set at run time, and sums then round differently; ONEDNN_MAX_CPU_ISA caps
# that choice, which makes this machine compute as an older (SSE4.1, AVX2) or AVX-512 CPU does. Last,
# one run pinned to one CPU, as on Binder: one thread splits reductions differently from two.
# A notebook passes when every compared output is the same in every configuration.
# Usage: tools/portability.sh PYTEST_NBVAL_ARGS... NOTEBOOKS...   (make test-portability passes them)
set -uo pipefail
out=build/portability
mkdir -p "$out"
summary=()
status=0

run() {  # run NAME COMMAND...: one configuration, its log in build/portability/NAME.log
  local name=$1; shift
  echo "== $name: $*"
  "$@" >"$out/$name.log" 2>&1
  local code=$?
  local last
  last=$(grep -E '(passed|failed|error)' "$out/$name.log" | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')
  summary+=("$(printf '%-12s %s' "$name" "${last:-no pytest summary (exit $code)}")")
  if [ $code -ne 0 ]; then
    status=1
    grep -E '^(FAILED|ERROR) ' "$out/$name.log" | sed 's/^/    /' || true
  fi
  echo "   ${summary[-1]}"
}

for isa in SSE41 AVX2 AVX512_CORE; do
  run "$isa" env ONEDNN_MAX_CPU_ISA=$isa .venv/bin/pytest -p no:cacheprovider -n 2 --dist loadfile "$@"
done
run one-cpu taskset -c 0 .venv/bin/pytest -p no:cacheprovider "$@"

echo
echo "Portability check (logs in $out/):"
printf '  %s\n' "${summary[@]}"
exit $status
