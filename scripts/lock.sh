#!/usr/bin/env bash
# Refreshes constraints.txt, the lock of every direct and transitive dependency that scripts/setup.sh and
# CI install from: resolves pyproject.toml's dependencies with all extras (torch stays pinned there to the
# CPU wheel on this machine's disk) in a throw-away virtual environment, without the old lock, and
# writes what pip chose. Run it after changing a dependency, run scripts/test.sh, commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" build' EXIT  # build/: setuptools' leftovers of the non-editable install
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check ".[all,test]"
{
  echo "# The lock: every package goengine[all,test] installs, at the version CI tested. Used as pip's"
  echo "# constraints by scripts/setup.sh (PIP_CONSTRAINT). Refresh with scripts/lock.sh; do not edit by hand."
  "$tmp/venv/bin/python" -m pip freeze --all --disable-pip-version-check | grep -v -i '^goengine[ =@]' | LC_ALL=C sort -f
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) packages locked"
