"""Converted game records for AlphaGo Lee's trainers: the folder `goengine data convert` writes, and its reader.

    ds = LeeDataset.open("data/katago9")          # DatasetError (one line) for anything wrong with it
    train = ds.split("train")                     # "train", "val" or "test": split by game, never by position
    planes_BCHW = train.planes(index_B)           # float32 (B, 48, N, N), the "lee_policy" planes
    planes_BCHW = train.planes(index_B, value=True)  # (B, 49, N, N): the "lee_value" planes (adds colour)
    train.action_P[index_B]                       # int64: the move played, action index row * N + col
    train.result_P[index_B]                       # int8: z for the player to move: +1 won, -1 lost, 0 unknown
    train.move_number_P, train.to_play_P, train.game_P   # 1-based move number; 1 Black / 2 White; game index
    for game in train.games(): positions = game.replay()  # Positions before each move, for rollouts or search
    position = train.position(i)                  # the Position of example i (replays its game)

Layout of a dataset folder D:

    D/meta.json            format, version, board size, whether planes are stored, the splits' shard
                           files and counts, the conversion summary (kept, dropped and why, malformed files)
    D/<split>-NNNNN.npz    np.savez_compressed shards, read with np.load(allow_pickle=False)

A shard holds G games and P examples (positions whose move is a training target):

    per game    game_offsets (G+1,) int64     slices of moves_action / moves_colour for game g
                moves_action (M,) int16       every move of the game in order, action index (N*N = pass)
                moves_colour (M,) int8        1 Black, 2 White
                setup (G, N*N) int8           stones on the board before move 1 (handicap, AB/AW): 0/1/2
                first_to_play (G,) int8       1 Black, 2 White
                komi (G,) float32, rules (G,) <U (rule set names), winner (G,) int8 (+1 Black, -1 White, 0)
                name (G,) <U                  the source file (archive:member for archived files)
    per example game_P (P,) int32 (game in this shard), move_number_P (P,) int16 (1-based: the example is
                the position before that move), action_P (P,) int16, to_play_P (P,) int8
                planes_packed (P, ceil(48*N*N/8)) uint8, only when planes are stored: np.packbits of the
                48 planes, each 0 or 1

Examples are the moves a policy should learn: moves by the side to move, not passes (AlphaGo Lee's policy
has no pass output), and not the random opening moves `goengine data generate` marks. The other moves
are still in the games, so replays are exact.

Planes are computed once at conversion (default) or at load time (`--planes load`: only the moves are
stored and the first `planes()` call replays every game of the split). The two give identical planes
(tests/rl/test_lee_data.py); on this machine storing them is faster (docs/lee.md has the figures).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from goengine import coords
from goengine.position import Position

FORMAT = "goengine-lee-records"
FORMAT_VERSION = 1
META_FILE = "meta.json"
SPLITS = ("train", "val", "test")
FEATURE_SET = "lee_policy"
POLICY_PLANES = 48


class DatasetError(ValueError):
    """A dataset folder that cannot be read; the message names the folder or file."""


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.npz"


@dataclass(frozen=True)
class Game:
    """One game of a split: enough to replay it exactly with our rules."""

    size: int
    komi: float
    rules: str
    setup: np.ndarray  # int8 (N*N,) 0 empty, 1 Black, 2 White
    first_to_play: int  # 1 Black, 2 White
    moves_action: np.ndarray  # int16 (M,), N*N = pass
    moves_colour: np.ndarray  # int8 (M,)
    winner: int  # +1 Black won, -1 White won, 0 draw or unknown
    name: str

    def start(self) -> Position:
        """The position before move 1 (after any setup stones)."""
        position = Position(self.size, self.komi, self.rules)
        setup = self.setup.reshape(self.size, self.size)  # (N*N,) -> (N, N), row 0 = GTP row 1
        if setup.any() or self.first_to_play != 1:
            position = position.with_colours(setup.astype(np.int32), to_play="bw"[self.first_to_play - 1])
        return position

    def moves(self) -> list[tuple[str, str]]:
        """(colour, GTP vertex) of every move."""
        return [("bw"[c - 1], coords.action_to_gtp(int(a), self.size))
                for a, c in zip(self.moves_action, self.moves_colour)]

    def replay(self) -> list[Position]:
        """[position before move 1, position before move 2, ..., final position], as goengine.sgf.replay."""
        position = self.start()
        positions = [position]
        for colour, vertex in self.moves():
            if position.passes >= 2:  # a record may go on after two passes: resume play, as sgf.replay does
                position = position.resumed()
            position = position.play(vertex, colour)
            positions.append(position)
        return positions


def pack_planes(planes_PCHW: np.ndarray) -> np.ndarray:
    """(P, C, N, N) planes of 0s and 1s -> uint8 (P, ceil(C*N*N/8))."""
    flat = planes_PCHW.reshape(len(planes_PCHW), -1) != 0  # (P, C, N, N) -> (P, C*N*N)
    return np.packbits(flat, axis=1)


def unpack_planes(packed_PB: np.ndarray, channels: int, size: int) -> np.ndarray:
    """The inverse of pack_planes: float32 (P, C, N, N)."""
    bits = np.unpackbits(packed_PB, axis=1, count=channels * size * size)
    return bits.reshape(len(packed_PB), channels, size, size).astype(np.float32)  # (P, C*N*N) -> (P, C, N, N)


class Split:
    """The examples and games of one split, in memory: planes packed (1 bit each), unpacked per batch."""

    def __init__(self, name: str, size: int, shards: list[dict[str, np.ndarray]], planes_stored: bool,
                 progress: bool = False):
        self.name = name
        self.size = size
        offsets, games, examples = [0], 0, 0
        per_game: dict[str, list] = {k: [] for k in ("setup", "first_to_play", "komi", "rules", "winner", "name")}
        moves_action, moves_colour = [], []
        per_example: dict[str, list] = {k: [] for k in ("game_P", "move_number_P", "action_P", "to_play_P")}
        packed = []
        for shard in shards:
            g = len(shard["first_to_play"])
            offsets.extend((shard["game_offsets"][1:] + offsets[-1]).tolist())
            moves_action.append(shard["moves_action"])
            moves_colour.append(shard["moves_colour"])
            for key in per_game:
                per_game[key].append(shard[key])
            for key in per_example:
                per_example[key].append(shard[key] + games if key == "game_P" else shard[key])
            if planes_stored:
                packed.append(shard["planes_packed"])
            games += g
            examples += len(shard["action_P"])
        self.game_offsets = np.asarray(offsets, dtype=np.int64)
        self.moves_action = _cat(moves_action, np.int16)
        self.moves_colour = _cat(moves_colour, np.int8)
        self.setup = np.concatenate(per_game["setup"]) if games else np.zeros((0, size * size), np.int8)
        self.first_to_play = _cat(per_game["first_to_play"], np.int8)
        self.komi = _cat(per_game["komi"], np.float32)
        self.rules = _cat(per_game["rules"], str)
        self.winner = _cat(per_game["winner"], np.int8)
        self.names = _cat(per_game["name"], str)
        self.game_P = _cat(per_example["game_P"], np.int64)
        self.move_number_P = _cat(per_example["move_number_P"], np.int64)
        self.action_P = _cat(per_example["action_P"], np.int64)
        self.to_play_P = _cat(per_example["to_play_P"], np.int8)
        # z from the player to move's side: Black is +1 in `winner`
        self.result_P = (self.winner[self.game_P] * np.where(self.to_play_P == 1, 1, -1)).astype(np.int8)
        n_bytes = (POLICY_PLANES * size * size + 7) // 8
        self._progress = progress
        self._packed = None  # computed at the first planes() call when the dataset stores moves only
        if planes_stored:
            self._packed = np.concatenate(packed) if packed else np.zeros((0, n_bytes), np.uint8)

    @property
    def planes_packed(self) -> np.ndarray:
        """uint8 (P, ceil(48*N*N/8)): every example's planes, packed."""
        if self._packed is None:
            self._packed = self._compute_planes(self._progress)
        return self._packed

    @property
    def n_games(self) -> int:
        return len(self.first_to_play)

    @property
    def n_positions(self) -> int:
        return len(self.action_P)

    def __len__(self) -> int:
        return self.n_positions

    def game(self, g: int) -> Game:
        lo, hi = self.game_offsets[g], self.game_offsets[g + 1]
        return Game(self.size, float(self.komi[g]), str(self.rules[g]), self.setup[g], int(self.first_to_play[g]),
                    self.moves_action[lo:hi], self.moves_colour[lo:hi], int(self.winner[g]), str(self.names[g]))

    def games(self) -> Iterator[Game]:
        for g in range(self.n_games):
            yield self.game(g)

    def examples_of(self, g: int) -> np.ndarray:
        """Indices of game g's examples (in move order): examples are stored game after game."""
        lo, hi = np.searchsorted(self.game_P, [g, g + 1])
        return np.arange(lo, hi)

    def position(self, i: int) -> Position:
        """The Position of example i: before move move_number_P[i] of its game."""
        return self.game(int(self.game_P[i])).replay()[int(self.move_number_P[i]) - 1]

    def planes(self, index, value: bool = False) -> np.ndarray:
        """float32 (B, 48, N, N) planes of examples `index` (49 with value=True: colour to play last)."""
        index = np.atleast_1d(np.asarray(index))
        planes = unpack_planes(self.planes_packed[index], POLICY_PLANES, self.size)
        if not value:
            return planes
        colour = np.broadcast_to((self.to_play_P[index] == 1).astype(np.float32)[:, None, None, None],
                                 (len(index), 1, self.size, self.size))  # (B,) -> (B, 1, N, N)
        return np.concatenate([planes, colour], axis=1)

    def _compute_planes(self, progress: bool) -> np.ndarray:
        """Replay every game and pack the planes of its examples (the `--planes load` layout)."""
        from tqdm import tqdm

        from goengine.features import extract

        n_bytes = (POLICY_PLANES * self.size * self.size + 7) // 8
        out = np.zeros((self.n_positions, n_bytes), dtype=np.uint8)
        for g in tqdm(range(self.n_games), desc=f"planes ({self.name})", unit="game", leave=False,
                      disable=not progress):
            rows = self.examples_of(g)
            if rows.size == 0:
                continue
            positions = self.game(g).replay()
            planes = np.stack([extract(positions[self.move_number_P[i] - 1], FEATURE_SET) for i in rows])
            out[rows] = pack_planes(planes)
        return out


def _cat(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


class LeeDataset:
    """A converted dataset folder: its meta.json and lazily loaded splits."""

    def __init__(self, path: str, meta: dict):
        self.path = path
        self.meta = meta
        self.board_size: int = meta["board_size"]
        self.planes_stored: bool = meta["planes"] == "stored"
        self._splits: dict[str, Split] = {}

    @classmethod
    def open(cls, path: str | os.PathLike) -> "LeeDataset":
        path = os.fspath(path)
        meta_path = os.path.join(path, META_FILE)
        if not os.path.isdir(path):
            raise DatasetError(f"dataset {path}: {'a file, not a folder' if os.path.exists(path) else 'no such folder'}"
                               f" (make one with goengine data convert SGF_DIR --out {path})")
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise DatasetError(f"dataset {path}: no {META_FILE}; "
                               f"not a folder written by goengine data convert") from None
        except (OSError, ValueError) as e:
            raise DatasetError(f"dataset {path}: cannot read {META_FILE}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise DatasetError(f"dataset {path}: {META_FILE} is not a goengine data convert summary")
        if meta.get("format_version") != FORMAT_VERSION:
            raise DatasetError(f"dataset {path}: format version {meta.get('format_version')!r}, "
                               f"this code reads {FORMAT_VERSION}")
        return cls(path, meta)

    def split(self, name: str, progress: bool = False) -> Split:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {name!r}")
        if name not in self._splits:
            shards = []
            for file in self.meta["splits"][name]["shards"]:
                shard_path = os.path.join(self.path, file)
                try:
                    with np.load(shard_path, allow_pickle=False) as z:
                        shards.append({k: z[k] for k in z.files})
                except (OSError, ValueError, EOFError) as e:
                    raise DatasetError(f"dataset shard {shard_path}: cannot be read ({e})") from None
            try:
                self._splits[name] = Split(name, self.board_size, shards, self.planes_stored, progress)
            except KeyError as e:
                raise DatasetError(f"dataset {self.path}: a {name} shard lacks {e}") from None
        return self._splits[name]
