"""The replay window: training positions sampled uniformly from the most recent self-play games.

AlphaGo Zero (Silver et al. 2017, Methods "Optimization") trains on mini-batches "sampled uniformly at
random from all positions of the most recent 500,000 games of self-play", each position transformed by a
random one of the 8 dihedral symmetries of the board (Methods "Self-play": the rules of Go are invariant
under rotation and reflection, so the augmented data stay correct).

A position t of a game is the sample (s_t, pi_t, z_t):
    s_t   the 17 input planes of the last 8 boards (goengine.features.zero_planes_batch)
    pi_t  the recorded visit distribution (only moves that had a full search are sampled: KataGo's
          playout-cap randomisation trains on those alone, Wu 2019 sec. 3.1)
    z_t   the game's result from the point of view of the player to move at t: +1 win, -1 loss, 0 jigo

With the final position of a game that was played out (not resigned), a sample also carries KataGo's
auxiliary targets (Wu 2019, sec. 4.1), from the same point of view as z_t and under the same symmetry as s_t:
    o_t   the final owner of every point under Tromp-Taylor area rules (a stone's colour; an empty region's
          colour when it touches stones of that colour only; neutral otherwise): +1 the mover's, -1 the
          opponent's, 0 neutral
    m_t   the final area margin, komi included (goengine's Position.score), from the mover's view, in points
Resigned games have no final position: their samples carry a mask of 0 and zeros as targets.

Games are kept compactly as their board colours (T, N, N) int8 and replayed into planes when sampled.
The window is the last `window_games` records in file order (generation, then seed: rl/records.py), so
a window rebuilt from disk after a restart holds the same games, in the same order, as the one built
during the run; with the sampler's saved RNG state that makes resumed training identical.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from goengine import coords
from goengine.features import HISTORY
from goengine.geometry import geometry
from goengine.position import Position
from rl.records import GameRecord, read_record, record_paths

WALL = 3  # colour of the padded board's wall points, as the search's leaf histories carry them


@dataclass
class _Game:
    boards: np.ndarray  # int8 (T, N, N): colours before each move
    to_play: np.ndarray  # int8 (T,): 1 Black, 2 White
    targets: np.ndarray  # float32 (T, A)
    z: np.ndarray  # float32 (T,): result for the player to move
    sample_moves: np.ndarray  # int64 (S,): the moves t that had a full search
    owner: np.ndarray  # int8 (N, N): final owner from Black's view (+1 Black, -1 White, 0 neutral)
    margin: float  # final area margin with komi, Black minus White (0 for a resigned game)
    scored: bool  # whether the game was played out, so that owner and margin are targets


def area_owner(board_NN: np.ndarray) -> np.ndarray:
    """Tromp-Taylor owner of every point of a board (0 empty, 1 black, 2 white): int8 (N, N), +1 Black's
    (a black stone, or an empty region that touches black stones only), -1 White's, 0 neutral. A plain
    flood fill, run once per game; goengine's numba kernel is its differential test's oracle."""
    size = board_NN.shape[0]
    owner_NN = np.zeros((size, size), dtype=np.int8)
    owner_NN[board_NN == 1], owner_NN[board_NN == 2] = 1, -1
    seen = board_NN != 0
    for row0 in range(size):
        for col0 in range(size):
            if seen[row0, col0]:
                continue
            region, reach, stack = [], set(), [(row0, col0)]
            seen[row0, col0] = True
            while stack:
                row, col = stack.pop()
                region.append((row, col))
                for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
                    if 0 <= r < size and 0 <= c < size:
                        if board_NN[r, c] != 0:
                            reach.add(int(board_NN[r, c]))
                        elif not seen[r, c]:
                            seen[r, c] = True
                            stack.append((r, c))
            value = 1 if reach == {1} else -1 if reach == {2} else 0
            for row, col in region:
                owner_NN[row, col] = value
    return owner_NN


def _replay(record: GameRecord) -> _Game:
    pos = Position(record.board_size, record.komi, record.rules)
    boards, to_play = [], []
    for action in record.moves:
        boards.append(pos.board_array())
        to_play.append(1 if pos.to_play == "b" else 2)
        pos = pos.play(coords.action_to_gtp(int(action), record.board_size))
    size = record.board_size
    to_play_T = np.array(to_play, dtype=np.int8)
    z = np.where(to_play_T == 1, record.result, -record.result).astype(np.float32)
    scored = not record.resigned
    return _Game(boards=np.array(boards, dtype=np.int8).reshape(len(to_play), size, size),  # (T, N, N)
                 to_play=to_play_T, targets=record.policy_targets, z=z,
                 sample_moves=np.flatnonzero(record.full_search),
                 owner=area_owner(pos.board_array()) if scored else np.zeros((size, size), np.int8),
                 margin=float(pos.score()) if scored else 0.0, scored=scored)


@dataclass
class Batch:
    planes_BCHW: np.ndarray  # float32 (B, 17, N, N)
    policy_BA: np.ndarray  # float32 (B, A): target visit distributions
    value_B: np.ndarray  # float32 (B,): z in {-1, 0, 1}
    ownership_BHW: np.ndarray | None = None  # float32 (B, N, N): o, final owner from the mover's view
    score_B: np.ndarray | None = None  # float32 (B,): m, final area margin from the mover's view, points
    aux_mask_B: np.ndarray | None = None  # float32 (B,): 1 where o and m are targets, 0 (resigned) where not


class ReplayWindow:
    """The most recent `window_games` games of a records folder, sampled position by position."""

    def __init__(self, board_size: int, window_games: int, augment: bool = True):
        self.board_size = board_size
        self.window_games = window_games
        self.augment = augment
        self.games: OrderedDict[str, _Game] = OrderedDict()  # path -> game, file order
        self._cum = np.zeros(1, dtype=np.int64)

    def refresh(self, directory: str | os.PathLike, max_generation: int | None = None,
                shard: tuple[int, int] = (0, 1)) -> int:
        """Hold the last window_games records of `directory` (up to max_generation); returns the number
        of training positions in the window. Games already held are not read again. With shard (i, k)
        only every k-th of those records from the i-th on: data-parallel worker i of k reads its own."""
        paths = record_paths(directory, max_generation)[-self.window_games:][shard[0]::shard[1]]
        kept: OrderedDict[str, _Game] = OrderedDict()
        for path in paths:
            game = self.games.get(path)
            if game is None:
                record = read_record(path)
                if record.board_size != self.board_size:
                    raise ValueError(f"record {path} is {record.board_size}x{record.board_size}, "
                                     f"the run is {self.board_size}x{self.board_size}")
                game = _replay(record)
            kept[path] = game
        self.games = kept
        self._cum = np.cumsum([0] + [len(g.sample_moves) for g in kept.values()])
        return self.positions

    @property
    def positions(self) -> int:
        return int(self._cum[-1])

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size positions drawn uniformly (with replacement) from the window, each under a random
        board symmetry when augmenting."""
        if self.positions == 0:
            raise ValueError("the replay window holds no positions to train on")
        from goengine.features import zero_planes_batch

        size = self.board_size
        g = geometry(size)
        games = list(self.games.values())
        flat = rng.integers(0, self.positions, size=batch_size)
        which = np.searchsorted(self._cum, flat, side="right") - 1
        history_BHP = np.full((batch_size, HISTORY, g.n_points), WALL, dtype=np.int32)
        to_play_B = np.empty(batch_size, dtype=np.int8)
        policy_BA = np.empty((batch_size, size * size + 1), dtype=np.float32)
        value_B = np.empty(batch_size, dtype=np.float32)
        ownership_BHW = np.empty((batch_size, size, size), dtype=np.float32)
        score_B = np.empty(batch_size, dtype=np.float32)
        aux_mask_B = np.empty(batch_size, dtype=np.float32)
        for b in range(batch_size):
            game = games[which[b]]
            t = int(game.sample_moves[flat[b] - self._cum[which[b]]])
            for k in range(HISTORY):
                board_NN = game.boards[t - k] if t - k >= 0 else np.zeros((size, size), np.int8)
                history_BHP[b, k, g.on_board] = board_NN.reshape(-1)  # (N, N) -> (N²,)
            to_play_B[b] = game.to_play[t]
            policy_BA[b] = game.targets[t]
            value_B[b] = game.z[t]
            sign = 1 if game.to_play[t] == 1 else -1  # Black's view -> the mover's
            ownership_BHW[b] = sign * game.owner
            score_B[b] = sign * game.margin
            aux_mask_B[b] = float(game.scored)
        planes_BCHW = zero_planes_batch(history_BHP, to_play_B, size)
        if self.augment:
            planes_BCHW, policy_BA, ownership_BHW = _augment(planes_BCHW, policy_BA, ownership_BHW,
                                                             rng.integers(0, 8, size=batch_size), size)
        return Batch(np.ascontiguousarray(planes_BCHW, dtype=np.float32), policy_BA, value_B,
                     ownership_BHW, score_B, aux_mask_B)


def _augment(planes_BCHW: np.ndarray, policy_BA: np.ndarray, ownership_BHW: np.ndarray, k_B: np.ndarray,
             size: int):
    """Each sample b under dihedral symmetry k_B[b], planes, policy and ownership alike (pass stays pass)."""
    from goengine.symmetries import apply_planes, apply_policy

    planes_out = np.empty_like(planes_BCHW)
    policy_out = np.empty_like(policy_BA)
    ownership_out = np.empty_like(ownership_BHW)
    for k in np.unique(k_B):
        idx = np.flatnonzero(k_B == k)
        planes_out[idx] = apply_planes(planes_BCHW[idx], int(k))
        policy_out[idx] = apply_policy(policy_BA[idx], int(k), size)
        ownership_out[idx] = apply_planes(ownership_BHW[idx], int(k))
    return planes_out, policy_out, ownership_out
