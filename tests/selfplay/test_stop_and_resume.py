"""`goengine train zero` on two real Ray workers, stopped the ways a user stops it: `kill -9` of the
driver leaves no process of the run behind and `--resume` finishes the run without losing a game on disk;
SIGINT and SIGTERM end it cleanly (exit 130 / 143, one line, workers gone). No Ray dashboard process runs
and nothing listens on the dashboard's port."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from rl.metrics_log import read_metrics
from rl.records import record_paths
from selfplay.reaper import process_tree, still_running

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = ["--board-size", "5", "--net", "2x16", "--visits", "8", "--games", "12", "--parallel-games", "2",
       "--steps", "10", "--batch-size", "32", "--gate-games", "2", "--window", "100", "--seed", "4",
       "--workers", "2", "--generations", "2", "--no-progress"]
DASHBOARD_PORT = 8265


def _default_sigint() -> None:
    """A shell's background job starts with SIGINT ignored, and Python then keeps it ignored: give the child
    the disposition a terminal's Ctrl-C meets, whatever the test runner inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _train(run_dir: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "goengine.cli", "train", "zero", "--out", run_dir, *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)


def _records(run_dir: str) -> dict[str, tuple[bytes, int]]:
    """Each game record on disk: its bytes and its modification time."""
    return {os.path.basename(p): (open(p, "rb").read(), os.stat(p).st_mtime_ns)
            for p in record_paths(os.path.join(run_dir, "games"))}


def _wait_for_games(proc: subprocess.Popen, run_dir: str, n: int, timeout: float = 240) -> dict[int, int]:
    """Wait until the run has n records on disk and both Ray workers run; the run's process tree then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        tree = process_tree({proc.pid})
        workers = [p for p in tree if b"SelfPlayWorker" in _cmdline(p)]
        if len(record_paths(os.path.join(run_dir, "games"))) >= n and len(workers) == 2:
            return tree
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run did not reach {n} games with 2 workers in {timeout} s")


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _survivors(tree: dict[int, int], timeout: float) -> list[str]:
    """Processes of `tree` (pid -> start time) still alive after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid, start in tree.items() if still_running(pid, start)]
        if not alive or time.monotonic() > deadline:
            return [f"{pid} {_cmdline(pid)[:80]!r}" for pid in alive]
        time.sleep(0.1)


def _listening(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def test_kill_9_leaves_no_process_and_resume_finishes_without_losing_a_game(tmp_path):
    run_dir = str(tmp_path / "run")
    proc = _train(run_dir, *RUN)
    tree = _wait_for_games(proc, run_dir, 4)
    commands = [_cmdline(pid) for pid in tree]
    assert any(b"raylet" in c for c in commands) and any(b"selfplay.reaper" in c for c in commands)
    assert not any(b"dashboard.py" in c for c in commands), "Ray's dashboard process was started"
    assert not _listening(DASHBOARD_PORT)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = _records(run_dir)
    assert len(before) >= 4
    assert _survivors(tree, timeout=15) == [], "processes of the killed run are still alive"

    resumed = _train(run_dir, *RUN, "--resume")  # the same command, as a user repeats it
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "goengine train zero: 2 generations, 24 self-play games" in out
    after = _records(run_dir)
    assert len(after) == 24
    assert {name: after[name] for name in before} == before, "a game on disk was lost or written again"
    assert [int(r["generation"]) for r in read_metrics(run_dir)] == [1, 2]
    for name in ("metrics.png", "best.pt", "nets/gen00002.pt"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert "Traceback" not in err


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_sigint_and_sigterm_stop_the_run_cleanly(tmp_path, signum, code, word):
    run_dir = str(tmp_path / "run")
    proc = _train(run_dir, *RUN)
    tree = _wait_for_games(proc, run_dir, 2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip() and "Token authentication" not in line]
    assert lines[-1] == f"goengine train: {word}" and "Traceback" not in err, err
    assert _survivors(tree, timeout=5) == [], "the run's Ray processes outlived a clean stop"
    assert len(record_paths(os.path.join(run_dir, "games"))) >= 2
