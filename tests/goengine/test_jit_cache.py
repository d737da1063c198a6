"""The numba cache folder follows the package's source (goengine/_jit_cache.py)."""
import os
import shutil
import subprocess
import sys
import time

from goengine import _jit_cache


def test_fingerprint_follows_the_kernels_sources_and_nothing_else(tmp_path, monkeypatch):
    copy = tmp_path / "goengine"
    shutil.copytree(_jit_cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_jit_cache, "PACKAGE", copy)
    before = _jit_cache.fingerprint()
    assert before == _jit_cache.fingerprint()
    sources = {str(p.relative_to(copy)) for p in _jit_cache.kernel_sources()}
    assert {"_kernels.py", "mcts/_tree.py", "mcts/_playout.py", "features/_ladder.py"} <= sources
    assert not sources & {"match.py", "cli.py", "gtp/engine.py", "mcts/search.py", "position.py"}

    def edit(name: str, text: str = "\n# changed\n") -> str:
        path = copy / name
        path.write_text(path.read_text() + text)
        return _jit_cache.fingerprint()

    # the referee, GTP and the search's Python side are not in a kernel: the compiled kernels stay
    assert edit("match.py") == edit("gtp/engine.py") == edit("mcts/search.py") == before
    # a callee's file, not the caller's: the case numba's own invalidation misses
    changed = edit("mcts/_playout.py")
    assert changed != before
    # a module a kernel file imports (constants a kernel freezes), found through the imports, relative too
    (copy / "mcts" / "_limits.py").write_text("MOVES = 3\n")
    assert edit("mcts/_playout.py", "\nfrom ._limits import MOVES\n") != changed
    with_import = _jit_cache.fingerprint()
    assert "mcts/_limits.py" in {str(p.relative_to(copy)) for p in _jit_cache.kernel_sources()}
    assert edit("mcts/_limits.py") != with_import


def test_kernels_are_cached_under_the_fingerprinted_folder(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = "import goengine; print(goengine._jit_cache.cache_dir()); goengine.Position(5, 0.5).play('C3')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    folder = out.stdout.strip()
    assert folder == os.path.join(str(tmp_path), f"goengine-{_jit_cache.fingerprint()}")
    cached = [name for _, _, files in os.walk(folder) for name in files if name.endswith(".nbi")]
    assert cached, "no numba index file was written under the fingerprinted folder"
    assert os.listdir(tmp_path) == [os.path.basename(folder)]


def test_pin_prunes_only_stale_folders_of_other_versions(tmp_path, monkeypatch):
    day = 86400.0
    now = time.time()  # pin() below prunes against the clock

    def folder(name, age_days, marker=True):
        path = tmp_path / name
        path.mkdir()
        (path / "kernel.nbi").write_bytes(b"x")
        if marker:
            (path / ".last_used").touch()
            os.utime(path / ".last_used", (now - age_days * day,) * 2)
        os.utime(path, (now - age_days * day,) * 2)
        return path

    stale = folder("goengine-aaaaaaaaaaaa", 30)
    stale_unmarked = folder("goengine-cccccccccccc", 30, marker=False)
    recent = folder("goengine-bbbbbbbbbbbb", 3)
    other = folder("features_e8f80ca8a84af813d51cdc7720ca95ca85a3a2c6", 300)  # not a version folder
    current = folder("goengine-dddddddddddd", 100)  # the version in use is never deleted
    # a version folder pinned recently but created long ago (its own mtime old, the marker fresh)
    reused = folder("goengine-eeeeeeeeeeee", 1)
    os.utime(reused, (now - 90 * day,) * 2)

    deleted = _jit_cache.prune(str(tmp_path), keep=str(current), now=now)
    assert sorted(deleted) == sorted([str(stale), str(stale_unmarked)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [recent.name, other.name, current.name, reused.name])

    # pin() marks its own folder and prunes its siblings
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    old = folder("goengine-ffffffffffff", 30)
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)  # restored after the test
    pinned = _jit_cache.pin()
    assert os.path.exists(os.path.join(pinned, ".last_used"))
    assert not old.exists() and recent.exists()


def test_gtp_compiles_a_cold_cache_before_its_first_answer(tmp_path):
    """With an empty cache, `goengine gtp` compiles every kernel before it answers its first command
    (here `name`: no search asked for), and says so on stderr; the next engine's genmove then finds all
    it needs in the cache and compiles nothing, so a referee's per-move limit never times a compilation."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    gtp = [sys.executable, "-m", "goengine.cli", "gtp", "--playouts", "50"]
    first = subprocess.run(gtp, input="name\nquit\n", env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0 and first.stdout.startswith("= goengine"), first.stderr
    assert "compiling the engine's kernels" in first.stderr
    folder = tmp_path / f"goengine-{_jit_cache.fingerprint()}"
    assert (folder / ".warm").exists()

    def index() -> dict[str, float]:
        return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.nbi")}

    before = index()
    assert any("rollout_search" in name for name in before), "the search was not compiled at start"
    second = subprocess.run(gtp, input="genmove b\nquit\n", env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and second.stdout.split("\n")[0] not in ("=", "= pass"), second.stdout
    assert "compiling" not in second.stderr
    assert index() == before, "the first genmove compiled (or recompiled) a kernel"
