"""`goengine bench {board,features,mcts,nets,selfplay} [--json]`: run one benchmark and print its figures."""
from __future__ import annotations

import importlib
import json
import os

BENCHMARKS = {
    "board": "bench.board",
    "features": "bench.features",
    "mcts": "bench.mcts",
    "nets": "bench.nets",
    "selfplay": "bench.selfplay",
}


def add_arguments(parser) -> None:
    parser.add_argument("which", choices=sorted(BENCHMARKS), help="what to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON line (default: a readable table)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, for smoke tests")


def run(args) -> int:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    module = importlib.import_module(BENCHMARKS[args.which])
    figures = module.measure(quick=args.quick)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
