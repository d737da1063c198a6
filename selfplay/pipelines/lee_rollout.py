"""`goengine train lee rollout`: AlphaGo Lee's linear rollout policy from converted records (rl/alphago_lee/rollout.py).

    goengine train lee rollout --data data/k9 --out runs/lee9 --minutes 5
    goengine train lee rollout --data data/k9 --out runs/lee9 --resume --steps 4000

Encodes the (position, move) pairs of the train, val and test splits as pattern features, trains the
hashed weight table with Adam on the cross-entropy of the move played, and writes RUN_DIR/rollout.pt at
each epoch's end and when the budget ends (load it with rl.alphago_lee.rollout.load_rollout_policy), with
RUN_DIR/rollout/metrics.csv. Prints the top-1 move prediction on the test split beside a uniform choice
among the candidates, and the µs per move of playouts with the trained table (numba, one thread).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

from goengine import checks
from goengine.cli import UserError
from selfplay.pipelines._lee_stage import open_dataset, resume_or_start

FLAGS = {"response_bits": "--response-bits", "pattern_bits": "--pattern-bits", "batch_size": "--batch-size",
         "lr": "--lr", "weight_decay": "--weight-decay", "board_size": "--board-size"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="D", help="dataset folder from goengine data convert")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (rollout.pt and rollout/ go there)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/rollout.pt")
    parser.add_argument("--steps", type=int, default=None, help="stop at this step (counted over resumes)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--board-size", type=int, default=None, help="refuse data or a checkpoint of another size")
    parser.add_argument("--response-bits", type=int, default=16, help="2^bits response pattern weights (default 16)")
    parser.add_argument("--pattern-bits", type=int, default=17, help="2^bits 3x3 pattern weights (default 17)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=0.02, help="Adam's learning rate (default 0.02)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--max-positions", type=int, default=None, help="encode at most this many train positions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-tensorboard", action="store_true", help="CSV only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
        if args.max_positions is not None:
            checks.integer("--max-positions", args.max_positions, 1)
        checks.seed("--seed", args.seed)
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None
    import torch
    from tqdm import tqdm

    from rl.alphago_lee import rollout
    from rl.alphago_lee.dataset import DatasetError
    from rl.metrics_log import MetricsLog

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = open_dataset(args)

    def start():
        try:
            config = rollout.RolloutTrainConfig(board_size=data.board_size, response_bits=args.response_bits,
                                                pattern_bits=args.pattern_bits, batch_size=args.batch_size,
                                                lr=args.lr, weight_decay=args.weight_decay, seed=args.seed)
        except ValueError as e:
            raise UserError(checks.renamed(e, FLAGS)) from None
        return rollout.RolloutTrainer(config)

    path = os.path.join(args.out, rollout.ROLLOUT_FILE)
    trainer = resume_or_start(args, data, path, rollout.RolloutTrainer.load, start)
    try:
        splits = {s: data.split(s, progress=not args.no_progress) for s in ("train", "val", "test")}
    except DatasetError as e:
        raise UserError(str(e)) from None
    policy = trainer.model.numba_policy()  # the hashing depends on the bits alone
    encoded, skipped = {}, 0
    for name, split in splits.items():
        encoded[name], n = rollout.encode_split(split, policy, args.max_positions if name == "train" else None)
        skipped += n
    if len(encoded["train"]) == 0:
        raise UserError(f"--data {args.data}: the train split has no positions a rollout policy can learn")
    print(f"goengine train lee rollout: {len(encoded['train'])} train / {len(encoded['val'])} val / "
          f"{len(encoded['test'])} test positions ({skipped} moves no rollout candidate, skipped); "
          f"from step {trainer.step}", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    progress = functools.partial(tqdm, leave=False, file=sys.stderr, disable=True if args.no_progress else None,
                                 dynamic_ncols=True)
    log = MetricsLog(os.path.join(args.out, rollout.LOG_DIR), step_key="step", tensorboard=not args.no_tensorboard)
    test = encoded["test"]
    try:
        rollout.train_rollout(trainer, encoded["train"], encoded["val"], args.out, steps=args.steps,
                              minutes=args.minutes, log=log, progress=progress,
                              extra={"data": os.path.abspath(args.data)})
        from nets.go.rollout import uniform_accuracy

        top1 = rollout.accuracy(trainer.model, test)
        uniform = uniform_accuracy(test) if len(test) else float("nan")
        boards = [b for b, _ in rollout.split_pairs(splits["test"] if len(test) else splits["train"], 200)]
        speed = rollout.microseconds_per_move(trainer.model.numba_policy(), boards)
        log.log(step=trainer.step, test_top1=top1, test_uniform_top1=uniform, us_per_move=speed["us_per_move"])
        trainer.save(path, data=os.path.abspath(args.data), test_top1=top1, us_per_move=speed["us_per_move"])
    finally:
        log.close()
    print(f"goengine train lee rollout: step {trainer.step}: test top-1 {top1:.3f} on {len(test)} positions "
          f"(uniform over candidates {uniform:.3f}); playouts {speed['us_per_move']:.1f} µs per move "
          f"({speed['moves']} moves); {path}")
    return 0
