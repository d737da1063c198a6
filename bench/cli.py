"""`goengine bench {board,compress,env,features,mcts,nets,selfplay,train} [--json] [--quick] [--weights CHECKPOINT]`: run one
benchmark and print its figures."""
from __future__ import annotations

import importlib
import json
import os

from goengine.cli import UserError

BENCHMARKS = {
    "board": "bench.board",
    "compress": "bench.compress",
    "env": "bench.env",
    "features": "bench.features",
    "mcts": "bench.mcts",
    "nets": "bench.nets",
    "selfplay": "bench.selfplay",
    "train": "bench.train",
}


def add_arguments(parser) -> None:
    parser.add_argument("which", choices=sorted(BENCHMARKS), help="what to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON line (default: a readable table)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, for smoke tests")
    parser.add_argument("--weights", metavar="CHECKPOINT",
                        help="selfplay and compress: measure with this trained AlphaGo Zero net (e.g. "
                             "RUN_DIR/best.pt) instead of a random-weight 6x64 net; compress compares it with "
                             "the checkpoints in RUN_DIR/compressed/")


def run(args) -> int:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    kwargs = {"quick": args.quick}
    if args.weights is not None:
        if args.which not in ("selfplay", "compress"):
            raise UserError(f"--weights is for `goengine bench selfplay` and `compress`, not {args.which}")
        kwargs["weights"] = args.weights
    module = importlib.import_module(BENCHMARKS[args.which])
    figures = module.measure(**kwargs)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
