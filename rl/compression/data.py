"""Replay records of a run folder as fine-tuning batches and held-out positions for `goengine compress`.

The records of RUN_DIR/games (rl/records.py) are split by file order: every tenth game is held out, the
rest are trained on. Records sort by generation, then by an arbitrary seed, so both halves span every
generation. Training batches are drawn uniformly from the training games under random board symmetries
(rl/alphago_zero/replay.py, as the Zero trainer draws them); held-out positions are drawn once, without
symmetries, from the held-out games.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

from rl.alphago_zero.replay import ReplayWindow
from rl.records import record_paths

HELD_OUT_EVERY = 10
"""One game in this many is held out (when there are at least two games)."""


def games_dir(run_dir: str | os.PathLike) -> str:
    """RUN_DIR/games, or RUN_DIR itself when it holds the records; ValueError when there are none."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise ValueError(f"--data {run_dir}: no such folder")
    for candidate in (os.path.join(run_dir, "games"), run_dir):
        if record_paths(candidate):
            return candidate
    raise ValueError(f"--data {run_dir}: no replay records in it or in its games/ folder")


@dataclass
class ReplayData:
    train: ReplayWindow
    held_out_planes_BCHW: np.ndarray
    """float32 positions of the held-out games (empty when there is one game only)."""
    held_out_policy_BA: np.ndarray
    held_out_value_B: np.ndarray
    games: int

    def batches(self, batch_size: int, seed: int):
        """A function returning one training batch of torch tensors (planes_BCHW, policy_BA, z_B) per call."""
        rng = np.random.default_rng(seed)

        def draw():
            batch = self.train.sample(batch_size, rng)
            return (torch.from_numpy(batch.planes_BCHW), torch.from_numpy(batch.policy_BA),
                    torch.from_numpy(batch.value_B))

        return draw


def load_replay(run_dir: str | os.PathLike, board_size: int, held_out_positions: int = 1000,
                seed: int = 0) -> ReplayData:
    """The records of `run_dir` split into training games and held-out positions (module docstring)."""
    directory = games_dir(run_dir)
    paths = record_paths(directory)
    held = [p for i, p in enumerate(paths) if len(paths) > 1 and i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    train = [p for p in paths if p not in set(held)]
    with tempfile.TemporaryDirectory(prefix="goengine-compress-") as work:
        windows = []
        for name, subset, augment in (("train", train, True), ("held", held, False)):
            folder = os.path.join(work, name)
            os.mkdir(folder)
            for path in subset:  # a folder of links: ReplayWindow reads a folder
                os.symlink(os.path.abspath(path), os.path.join(folder, os.path.basename(path)))
            window = ReplayWindow(board_size, max(len(subset), 1), augment=augment)
            window.refresh(folder)
            windows.append(window)
    train_window, held_window = windows
    if train_window.positions == 0:
        raise ValueError(f"--data {run_dir}: the records hold no positions with a full search to train on")
    if held_window.positions:
        batch = held_window.sample(min(held_out_positions, held_window.positions), np.random.default_rng(seed))
        planes, policy, value = batch.planes_BCHW, batch.policy_BA, batch.value_B
    else:
        a = board_size * board_size + 1
        planes = np.zeros((0, 17, board_size, board_size), np.float32)
        policy, value = np.zeros((0, a), np.float32), np.zeros(0, np.float32)
    return ReplayData(train_window, planes, policy, value, len(paths))
