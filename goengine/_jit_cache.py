"""Where numba caches goengine's compiled kernels: one folder per version of the package's source.

numba invalidates a cached function only when the file that defines it changes (numba docs, "Cache
invalidation"). A kernel that calls a kernel of another file (the search calls the playout, the
playout calls the board) keeps the old callee's machine code after that other file changes: after an
upgrade or an edit, the engine would silently run stale code. So the cache lives in a subfolder named
by a hash of the source files that can end up in a kernel (`kernel_sources`: every file that imports
numba, and every goengine module those import, whose constants a kernel freezes when it compiles), and
a change to any of them starts a fresh one. A change elsewhere (the referee, GTP, the command line)
keeps the compiled kernels: it no longer costs a recompilation of about a minute, which, at a match's
first genmove, is a loss on time.

The base folder is $NUMBA_CACHE_DIR if set (Ray workers get it from the driver, selfplay.orchestrator),
else ~/.cache/goengine-numba. `pin()` must run before the first jitted module is imported: numba fixes
a function's cache path when the decorator runs.

Each version leaves a folder of about 10 MB behind, so `pin()` marks its folder as used (a `.last_used`
file) and deletes the folders of other versions unused for KEEP_DAYS: a process still running an older
version (a Ray worker of a long run) marks its folder whenever it starts, so it is not pulled from under it.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
KEEP_DAYS = 14.0
"""Folders of other source versions unused for this long are deleted by pin()."""
_VERSION_FOLDER = re.compile(r"goengine-[0-9a-f]{12}")


_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n]*)", re.M)


def _imports(path: Path) -> tuple[bool, set[str]]:
    """(whether the file imports numba, the goengine modules it imports, each as a dotted name; for `from
    goengine.x import y`, both goengine.x and goengine.x.y, whichever of them is a module). Read by
    pattern, not parsed (a parse of the kernel files costs 90 ms at every start): an import statement
    quoted in a docstring only adds a file to hash, which is safe."""
    text = path.read_text(encoding="utf-8", errors="replace")
    package = ["goengine", *path.relative_to(PACKAGE).parent.parts]  # what a relative import starts from
    names = set()
    for base, imported in _FROM_IMPORT.findall(text):
        level = len(base) - len(base.lstrip("."))
        if level:  # relative: from the package, up level-1 packages
            rest = base[level:]
            base = ".".join(package[:len(package) - level + 1] + ([rest] if rest else []))
        names.add(base)
        for item in re.sub(r"#[^\n]*", "", imported).strip("()").split(","):
            if item.split():
                names.add(f"{base}.{item.split()[0]}")
    for imported in _IMPORT.findall(text):
        names.update(item.split()[0] for item in imported.split("#")[0].split(",") if item.split())
    uses_numba = any(name.split(".")[0] == "numba" for name in names)
    return uses_numba, {name for name in names if name.split(".")[0] == "goengine"}


def _module_file(name: str) -> Path | None:
    """The file of the goengine module `name` (a package's __init__.py), None if it is not one."""
    path = PACKAGE.joinpath(*name.split(".")[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def kernel_sources() -> list[Path]:
    """The files whose code can be in a compiled kernel: every .py file of goengine that imports numba,
    and the goengine modules those import, transitively. Sorted."""
    # only files that name numba can import it: read those, then what the kernel files import
    read = {path: _imports(path) for path in PACKAGE.rglob("*.py") if b"numba" in path.read_bytes()}
    todo = [path for path, (uses_numba, _) in read.items() if uses_numba]
    found = set(todo)
    while todo:
        path = todo.pop()
        for name in (read[path] if path in read else _imports(path))[1]:
            path = _module_file(name)
            if path is not None and path not in found:
                found.add(path)
                todo.append(path)
    return sorted(found)


def fingerprint() -> str:
    """12 hex digits of a hash of the kernel_sources() (paths and contents)."""
    digest = hashlib.sha1()
    for path in kernel_sources():
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def base_dir() -> str:
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "goengine-numba")


def cache_dir() -> str:
    return os.path.join(base_dir(), f"goengine-{fingerprint()}")


_pinned: str | None = None


def pinned() -> str | None:
    """The folder pin() pointed numba's cache at (None before it ran), read without importing numba."""
    return _pinned


def pin() -> str:
    """Point numba's cache at cache_dir() for the kernels defined from now on; returns the folder."""
    global _pinned
    from numba.core import config

    folder = cache_dir()
    config.CACHE_DIR = _pinned = folder
    try:
        os.makedirs(folder, exist_ok=True)
        Path(folder, ".last_used").touch()
        prune(base_dir(), keep=folder)
    except OSError:
        pass  # a read-only or shared cache: numba itself falls back, and pruning is only housekeeping
    return folder


def last_used(folder: str) -> float:
    """When a version folder was last pinned (its .last_used file; the folder's own mtime before that)."""
    marker = os.path.join(folder, ".last_used")
    return os.path.getmtime(marker if os.path.exists(marker) else folder)


def prune(base: str, keep: str, max_age_days: float = KEEP_DAYS, now: float | None = None) -> list[str]:
    """Delete the goengine-<fingerprint> folders under `base`, other than `keep`, not used for
    max_age_days. Other files and folders are left alone. Returns the deleted paths."""
    now = time.time() if now is None else now
    deleted = []
    for entry in os.scandir(base):
        path = entry.path
        if not entry.is_dir(follow_symlinks=False) or not _VERSION_FOLDER.fullmatch(entry.name):
            continue
        if os.path.abspath(path) == os.path.abspath(keep):
            continue
        try:
            stale = now - last_used(path) > max_age_days * 86400.0
        except OSError:
            continue  # deleted meanwhile by another process
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(path)
    return deleted
