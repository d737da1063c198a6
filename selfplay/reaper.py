"""A watchdog that ends an embedded Ray instance's processes when the process that started it dies, also
by `kill -9`.

Ray ties its head processes (GCS, raylet, monitors) to the driver with the parent-death signal, and
actors notice a dead raylet; but the raylet's agents (ray::DashboardAgent, ray::RuntimeEnvAgent) wait on
a dead GCS for a minute or more, and an actor busy in a kernel keeps its core until it next asks Ray for
something. A run killed with -9 should leave nothing behind, so the Orchestrator starts this watchdog
before `ray.init` (`python -m selfplay.reaper`, standard library only):

    driver -> reaper stdin:  one line per process to watch (the Ray processes the driver started),
                             then EOF when the driver closes the pipe or dies
    reaper:                  every POLL_SECONDS, remembers the watched processes and all their
                             descendants (pid and start time, so a reused pid is never hit);
                             at EOF sends SIGTERM to those still alive, SIGKILL after GRACE_SECONDS

The pipe is the death signal: the kernel closes the driver's end when the driver dies however it dies,
and only the driver holds it (the write end is not inherited by Ray's processes). Linux only (/proc).
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

POLL_SECONDS = 0.5
GRACE_SECONDS = 2.0


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, None if it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # the command name may hold spaces and parentheses
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1]), int(fields[19])


def still_running(pid: int, start: int) -> bool:
    """Whether `pid` is alive and still the process that started at `start` (not a reused pid)."""
    st = _stat(pid)
    return st is not None and st[1] == start


def process_tree(roots: set[int]) -> dict[int, int]:
    """The live processes in `roots` and all their descendants: pid -> start time."""
    parent: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                parent[int(name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in parent.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {}, [r for r in roots if r in parent]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree[pid] = parent[pid][1]
            todo += children.get(pid, [])
    return tree


def end_processes(known: dict[int, int], grace: float = GRACE_SECONDS) -> list[int]:
    """SIGTERM every process of `known` still alive with the same start time, then SIGKILL those left after
    `grace` seconds; returns the pids that were signalled."""
    alive = [pid for pid, start in known.items() if still_running(pid, start) and pid != os.getpid()]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(still_running(p, known[p]) for p in alive):
        time.sleep(0.05)
    for pid in alive:
        if still_running(pid, known[pid]):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return alive


def watch(stream) -> None:
    """Read pids from `stream` (a binary pipe) until EOF, tracking their trees; then end them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the terminal is the driver's to handle
    fd = stream.fileno()
    roots: set[int] = set()
    known: dict[int, int] = {}
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
        if ready:
            data = os.read(fd, 4096)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            roots.update(int(line) for line in lines if line.strip().isdigit())
        known.update(process_tree(roots))
        known = {pid: start for pid, start in known.items() if still_running(pid, start)}
    known.update(process_tree(roots))
    end_processes(known)


if __name__ == "__main__":
    watch(sys.stdin.buffer)
