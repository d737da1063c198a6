"""Where numba caches goengine's compiled kernels: one folder per version of the package's source.

numba invalidates a cached function only when the file that defines it changes (numba docs, "Cache
invalidation"). A kernel that calls a kernel of another file (the search calls the playout, the
playout calls the board) keeps the old callee's machine code after that other file changes: after an
upgrade or an edit, the engine would silently run stale code. So the cache lives in a subfolder named
by a hash of every source file of the package, and any change starts a fresh one.

The base folder is $NUMBA_CACHE_DIR if set (Ray workers get it from the driver, selfplay.orchestrator),
else ~/.cache/goengine-numba. `pin()` must run before the first jitted module is imported: numba fixes
a function's cache path when the decorator runs.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def fingerprint() -> str:
    """12 hex digits of a hash of every .py file of goengine (paths and contents)."""
    digest = hashlib.sha1()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def base_dir() -> str:
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "goengine-numba")


def cache_dir() -> str:
    return os.path.join(base_dir(), f"goengine-{fingerprint()}")


def pin() -> str:
    """Point numba's cache at cache_dir() for the kernels defined from now on; returns the folder."""
    from numba.core import config

    folder = cache_dir()
    config.CACHE_DIR = folder
    return folder
