#!/usr/bin/env bash
# Sets up goengine on a fresh Debian machine with Python 3.11: a virtual environment in .venv with the
# package and its extras. `scripts/setup.sh --test` also installs what the tests need that pip cannot
# (GNU Go from Debian, the node GTP client of Sabaki from npm). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extras="all"
[ "${1:-}" = "--test" ] && extras="all,test"
# torch is pinned to the CPU wheel in pyproject.toml; pip finds it on this machine's disk.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"

export NUMBA_CACHE_DIR="$PWD/.numba_cache"
if [ "${1:-}" = "--test" ]; then
  if [ ! -x /usr/games/gnugo ]; then
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnugo >/dev/null
  fi
  if [ -f tests/gtp/client/package.json ] && [ ! -d tests/gtp/client/node_modules ] && command -v npm >/dev/null; then
    (cd tests/gtp/client && npm ci --silent --no-audit --no-fund)
  fi
fi
# compile the numba kernels once, into the cache every later process reads
.venv/bin/python -c "import goengine.warmup as w; w.warm()"
