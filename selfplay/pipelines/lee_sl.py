"""`goengine train lee sl`: AlphaGo Lee's SL policy from converted records (rl/alphago_lee/sl.py).

    goengine data convert /work/data/katago9 --out data/k9
    goengine train lee sl --data data/k9 --out runs/lee9 --minutes 30
    goengine train lee sl --data data/k9 --out runs/lee9 --resume --minutes 30     # carries on
    goengine train lee sl --data data/k9 --out runs/l5 --filters 16 --layers 4 --steps 200  # a small net
    goengine train lee sl --data data/k9 --out runs/lee9 --minutes 30 --train-mode sync --train-workers 2

--train-mode sync|async trains on Ray workers (selfplay/training, docs/distributed.md), one stretch
between two checkpoints per fit; the checkpoint and --resume are the same in every mode.

Writes RUN_DIR/sl.pt (the lee_policy net, its settings and optimizer state) at each epoch's end and when
the budget ends, RUN_DIR/sl/metrics.csv (+ tensorboard/, sl.png), and prints the top-1 / top-5 of the
move played on the dataset's test split. With --resume the settings come from sl.pt; --steps counts
from the start of the run, --minutes from this call.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

from goengine import checks
from goengine.cli import UserError
from selfplay.pipelines._lee_stage import open_dataset, resume_or_start

FLAGS = {"board_size": "--board-size", "filters": "--filters", "layers": "--layers", "batch_size": "--batch-size",
         "lr": "--lr", "lr_halve_steps": "--lr-halve-steps", "momentum": "--momentum", "weight_decay": "--weight-decay"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="D", help="dataset folder from goengine data convert")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (sl.pt and sl/ go there)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/sl.pt")
    parser.add_argument("--steps", type=int, default=None, help="stop at this step (counted over resumes)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--board-size", type=int, default=None, help="refuse data or a checkpoint of another size")
    parser.add_argument("--filters", type=int, default=128, help="k, filters per layer (default 128)")
    parser.add_argument("--layers", type=int, default=13, help="convolutional layers (default 13, the paper's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate at step 0 (default 0.01)")
    parser.add_argument("--lr-halve-steps", type=int, default=20000, help="halve the rate every N steps")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--no-symmetries", action="store_true", help="train without the 8 random symmetries")
    parser.add_argument("--eval-positions", type=int, default=None,
                        help="validate on at most this many positions per epoch (default all)")
    parser.add_argument("--train-positions", type=int, default=None,
                        help="train on the first N positions of the train split only (compare corpora at equal size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-tensorboard", action="store_true", help="CSV and PNG only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--address", default=None, help="Ray cluster for --train-mode sync|async (default: local)")
    from selfplay.training.cli import add_training_arguments

    add_training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.steps is None and args.minutes is None:
        raise UserError("give --steps N or --minutes M (whichever comes first ends the run)")
    try:
        if args.steps is not None:
            checks.integer("--steps", args.steps, 1)
        if args.minutes is not None:
            checks.number("--minutes", args.minutes, 0, low_open=True)
        if args.threads is not None:
            checks.integer("--threads", args.threads, 1)
        for flag, value in (("--eval-positions", args.eval_positions), ("--train-positions", args.train_positions)):
            if value is not None:
                checks.integer(flag, value, 1)
        checks.seed("--seed", args.seed)
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None
    from selfplay.training.cli import backend_from_args, train_workers

    train_workers(args)  # bad training flags: one line, before anything starts
    import torch
    from tqdm import tqdm

    from rl.alphago_lee import sl
    from rl.alphago_lee.dataset import DatasetError
    from rl.metrics_log import MetricsLog

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = open_dataset(args)

    def start():
        try:
            config = sl.SLConfig(board_size=data.board_size, filters=args.filters, layers=args.layers,
                                 batch_size=args.batch_size, lr=args.lr, lr_halve_steps=args.lr_halve_steps,
                                 momentum=args.momentum, weight_decay=args.weight_decay,
                                 symmetries=not args.no_symmetries, seed=args.seed)
        except ValueError as e:
            raise UserError(checks.renamed(e, FLAGS)) from None
        return sl.SLTrainer(config)

    path = os.path.join(args.out, sl.SL_FILE)
    trainer = resume_or_start(args, data, path, sl.SLTrainer.load, start)
    try:
        train, val, test = (data.split(s, progress=not args.no_progress) for s in ("train", "val", "test"))
    except DatasetError as e:
        raise UserError(str(e)) from None
    if train.n_positions == 0:
        raise UserError(f"--data {args.data}: the train split has no positions")
    os.makedirs(args.out, exist_ok=True)
    progress = functools.partial(tqdm, leave=False, file=sys.stderr, disable=True if args.no_progress else None,
                                 dynamic_ncols=True)
    c = trainer.config
    print(f"goengine train lee sl: {c.layers} layers x {c.filters} filters on {c.board_size}x{c.board_size}; "
          f"{min(train.n_positions, args.train_positions or train.n_positions)} train / {val.n_positions} val / "
          f"{test.n_positions} test positions; "
          f"from step {trainer.step}", file=sys.stderr)
    log = MetricsLog(os.path.join(args.out, sl.LOG_DIR), step_key="step", tensorboard=not args.no_tensorboard)
    backend = fit = None
    if args.train_mode != "local":
        from selfplay.training.api import TrainSpec

        backend = backend_from_args(args, address=args.address)
        spec = TrainSpec(**sl.spec_parts(trainer.config))
        print(f"goengine train lee sl: training with --train-mode {args.train_mode} on {backend.workers} Ray workers",
              file=sys.stderr)

        def fit(trainer, source, steps, sums):
            return backend.fit(trainer, spec, source, steps, sums=sums).steps
    try:
        sl.train_sl(trainer, train, val, args.out, sl.Budget(args.steps, args.minutes), log=log, progress=progress,
                    eval_limit=args.eval_positions, train_limit=args.train_positions,
                    extra={"data": os.path.abspath(args.data)}, fit=fit)
        result = sl.evaluate(trainer.model, test)
        uniform = sl.legal_uniform_top1(test) if test.n_positions else float("nan")
        if test.n_positions:
            log.log(step=trainer.step, test_top1=result["top1"], test_top5=result["top5"], test_loss=result["loss"])
            trainer.save(path, data=os.path.abspath(args.data), test_top1=result["top1"], test_top5=result["top5"])
    finally:
        log.close()
        sl.plot(args.out)
        if backend is not None:
            backend.close()
    if test.n_positions:
        print(f"goengine train lee sl: step {trainer.step}: test top-1 {result['top1']:.3f}, top-5 "
              f"{result['top5']:.3f} on {result['positions']} positions (uniform over sensible moves "
              f"{uniform:.3f}); {path}")
    else:
        print(f"goengine train lee sl: step {trainer.step}: the test split is empty; {path}")
    return 0
