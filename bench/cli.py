"""`goengine bench {board,compress,env,features,mcts,nets,selfplay,train} [--json] [--quick] [--weights CHECKPOINT]
[--seeds N] [--first-seed S] [--only sync]`: run one benchmark and print its figures."""
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
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="train: runs of every mode, each with its own initial weights and sampling (default 3)")
    parser.add_argument("--first-seed", type=int, metavar="S",
                        help="train: the seeds are S, S+1, ... (default 0); new seeds measure anew, the same ones "
                             "repeat their noise")
    parser.add_argument("--only", choices=["sync"],
                        help="train: the local, sync and ceiling rows alone (the goal for synchronous DDP)")
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
    train_flags = {"seeds": args.seeds, "first_seed": args.first_seed, "only": args.only}
    given = [f"--{k.replace('_', '-')}" for k, v in train_flags.items() if v is not None]
    if given and args.which != "train":
        raise UserError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for `goengine bench train` only, "
                        f"not {args.which}")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {args.seeds}")
    if args.first_seed is not None and args.first_seed < 0:
        raise UserError(f"--first-seed must be 0 or more, not {args.first_seed}")
    if args.which == "train":
        kwargs.update(seeds=args.seeds, first_seed=args.first_seed or 0, only=args.only)
    module = importlib.import_module(BENCHMARKS[args.which])
    figures = module.measure(**kwargs)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
