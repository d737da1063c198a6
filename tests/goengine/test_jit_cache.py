"""The numba cache folder follows the package's source (goengine/_jit_cache.py)."""
import os
import shutil
import subprocess
import sys

from goengine import _jit_cache


def test_fingerprint_changes_with_any_source_file(tmp_path, monkeypatch):
    copy = tmp_path / "goengine"
    shutil.copytree(_jit_cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_jit_cache, "PACKAGE", copy)
    before = _jit_cache.fingerprint()
    assert before == _jit_cache.fingerprint()
    # a callee's file, not the caller's: the case numba's own invalidation misses
    playout = copy / "mcts" / "_playout.py"
    playout.write_text(playout.read_text() + "\n# changed\n")
    assert _jit_cache.fingerprint() != before


def test_kernels_are_cached_under_the_fingerprinted_folder(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    code = "import goengine; print(goengine._jit_cache.cache_dir()); goengine.Position(5, 0.5).play('C3')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    folder = out.stdout.strip()
    assert folder == os.path.join(str(tmp_path), f"goengine-{_jit_cache.fingerprint()}")
    cached = [name for _, _, files in os.walk(folder) for name in files if name.endswith(".nbi")]
    assert cached, "no numba index file was written under the fingerprinted folder"
    assert os.listdir(tmp_path) == [os.path.basename(folder)]
