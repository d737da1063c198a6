"""The lock (constraints.txt) covers every package goengine[all,test] needs, and this environment holds
exactly the locked versions: a dependency added to pyproject.toml without refreshing the lock
(scripts/lock.sh), or an environment that drifted from it, fails here rather than on a fresh machine."""
from __future__ import annotations

import os
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRAS = ("all", "test", "nets", "rl", "selfplay", "compression", "bench")


def locked() -> dict[str, str]:
    pins = {}
    with open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, sep, version = line.partition("==")
                assert sep, f"constraints.txt: {line!r} is not name==version"
                pins[canonicalize_name(name)] = version
    return pins


def needed() -> dict[str, str]:
    """Every distribution goengine with all its extras pulls in, transitively: name -> who needs it."""
    seen: dict[str, str] = {}
    todo = [(Requirement(r), ("",) + EXTRAS, "goengine") for r in metadata.requires("goengine") or []]
    while todo:
        req, extras, parent = todo.pop()
        name = canonicalize_name(req.name)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue  # for another extra, platform or Python
        if name in seen or name == "goengine":
            continue
        seen[name] = parent
        todo += [(Requirement(r), ("",) + tuple(req.extras), name) for r in metadata.requires(req.name) or []]
    return seen


def test_every_needed_package_is_locked_at_the_installed_version():
    pins = locked()
    for name, parent in sorted(needed().items()):
        assert name in pins, f"{name} (needed by {parent}) is not in constraints.txt: run scripts/lock.sh"
        installed = metadata.version(name)
        assert installed == pins[name], (f"{name} {installed} is installed, the lock says {pins[name]}: "
                                         f"run scripts/setup.sh (or scripts/lock.sh after a dependency change)")


def test_the_lock_keeps_the_cpu_torch_wheel():
    # an unpinned or other torch downloads a multi-GB CUDA build; the CPU wheel on this disk is 2.13.0+cpu
    assert locked()["torch"] == "2.13.0+cpu"
