#!/usr/bin/env bash
# Sets everything up and runs the default test suite (slow tests excluded; run them with -m slow).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
export NUMBA_CACHE_DIR="$PWD/.numba_cache"
.venv/bin/python -m pytest -q "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
