"""What the record-trained AlphaGo Lee stages (sl, rollout) do alike before training: open the converted
dataset, and either resume the stage's checkpoint in RUN_DIR or start a new one, each failure one line."""
from __future__ import annotations

import os
from typing import Callable

from goengine.cli import UserError


def open_dataset(args):
    """The LeeDataset at --data, of --board-size if given."""
    from rl.alphago_lee.dataset import DatasetError, LeeDataset

    try:
        data = LeeDataset.open(args.data)
    except DatasetError as e:
        raise UserError(str(e)) from None
    if args.board_size is not None and data.board_size != args.board_size:
        raise UserError(f"--data {args.data} holds {data.board_size}x{data.board_size} games, not "
                        f"{args.board_size}x{args.board_size}")
    return data


def resume_or_start(args, data, path: str, load: Callable, start: Callable):
    """With --resume the trainer `load(path, board_size=...)` reads (for the data's board size), else
    `start()`'s new one, refusing to overwrite `path`."""
    from nets.go.checkpoint import CheckpointError

    if not args.resume:
        if os.path.exists(path):
            raise UserError(f"{path} exists: pass --resume to continue it, or choose another --out")
        return start()
    if not os.path.exists(path):
        raise UserError(f"--resume: {path} does not exist (start without --resume)")
    try:
        trainer, _extra = load(path, board_size=args.board_size)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    if trainer.config.board_size != data.board_size:
        raise UserError(f"{path} is for {trainer.config.board_size}x{trainer.config.board_size}; --data "
                        f"{args.data} holds {data.board_size}x{data.board_size} games")
    return trainer
