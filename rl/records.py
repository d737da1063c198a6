"""Self-play game records: the one versioned schema that self-play workers write and trainers read.

AlphaGo Zero (Silver et al. 2017, Nature 550, "Self-play training pipeline") stores, for every move of a
self-play game, the search probabilities pi_t (the root's visit distribution) and, once the game ends,
the winner z; training samples (s_t, pi_t, z_t) from the most recent games. A record here holds exactly
that for one game, plus what the pipeline needs to audit itself: the generation and weights that played
it, the seed that replays it, and resignation bookkeeping (AlphaGo Zero disables resignation in 10% of
games to measure how often a resignation would have been wrong).

A record is one `.npz` file (numpy arrays only, read with allow_pickle=False, so a record cannot run
code) written atomically: a temporary file in the same folder, then `os.replace`, so a crash leaves
either the whole game or nothing. Version history of the format (`RECORD_VERSION`):

    1   the fields of `GameRecord` below; `winner_min_value` was added later as an optional array (a
        file without it reads as NaN), so older records still read

Actions are indices 0..N²-1 (row * N + col, row 0 = GTP row 1) and N² for pass (goengine/coords.py).
"""
from __future__ import annotations

import math
import os
import re
import zipfile
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from goengine.atomic import atomic_open
from goengine.rules import rules_from

RECORD_VERSION = 1
FILE_PATTERN = re.compile(r"^gen(\d{5,})-([0-9a-f]{16})\.npz$")


class RecordError(ValueError):
    """A record file that cannot be read or fails its checks; the message names the file."""


@dataclass
class GameRecord:
    """One self-play game. T moves, A = N² + 1 actions (pass last)."""

    board_size: int
    komi: float
    rules: str
    """Rule set name (goengine.rules), so the moves replay under the rules they were played by."""
    moves: np.ndarray
    """int16 (T,): action played at each move, Black first."""
    policy_targets: np.ndarray
    """float32 (T, A): the root's visit distribution pi_t; rows of zeros where no full search was done."""
    full_search: np.ndarray
    """bool (T,): whether move t had a full search (playout-cap randomisation); only those train the policy."""
    result: float
    """+1 Black won, -1 White won, 0 jigo."""
    generation: int
    seed: int
    """The game's own seed (noise, temperature, resignation draw): with the weights, it replays the game."""
    resign_disabled: bool
    resigned: bool
    false_resign: bool | None
    """In resign-disabled games: whether the side that would first have resigned went on to win (None if
    resignation never triggered). None in other games."""
    weights_version: int
    """Version (generation of the best net) of the weights that played the game."""
    winner_min_value: float = float("nan")
    """In resign-disabled games: the lowest resignation value (the larger of the root's and the best move's
    win rate, at full searches) the eventual winner saw. A game would have been resigned wrongly at any
    threshold above it; AlphaGo Zero's automatic v_resign reads these (selfplay/resign.py). NaN otherwise."""

    @property
    def num_moves(self) -> int:
        return int(len(self.moves))

    def filename(self) -> str:
        return record_filename(self.generation, self.seed)


def record_filename(generation: int, seed: int) -> str:
    """Records sort by generation, then by seed (a fixed, arbitrary order within a generation)."""
    return f"gen{generation:05d}-{seed & 0xFFFF_FFFF_FFFF_FFFF:016x}.npz"


def check_record(record: GameRecord, where: str = "record") -> None:
    """Raise RecordError unless the record's arrays agree with each other and with its board size."""
    n = record.board_size
    actions = n * n + 1
    t = len(record.moves)
    if not 2 <= n <= 25:
        raise RecordError(f"{where}: board size {n} out of range")
    if record.moves.ndim != 1 or (t and (record.moves.min() < 0 or record.moves.max() >= actions)):
        raise RecordError(f"{where}: moves must be action indices 0..{actions - 1}")
    if record.policy_targets.shape != (t, actions):
        raise RecordError(f"{where}: policy_targets has shape {record.policy_targets.shape}, expected {(t, actions)}")
    if record.full_search.shape != (t,):
        raise RecordError(f"{where}: full_search has shape {record.full_search.shape}, expected {(t,)}")
    if record.result not in (-1.0, 0.0, 1.0):
        raise RecordError(f"{where}: result {record.result} is not +1, -1 or 0")
    if not math.isfinite(record.komi):
        raise RecordError(f"{where}: komi {record.komi} is not a finite number")
    if record.generation < 0 or record.weights_version < 0:
        raise RecordError(f"{where}: generation and weights version cannot be negative")
    try:
        rules_from(record.rules)
    except ValueError as e:
        raise RecordError(f"{where}: {e}") from None
    sums = record.policy_targets.sum(axis=1)
    ok = np.where(record.full_search, np.abs(sums - 1.0) < 1e-3, True)
    if not ok.all() or not np.isfinite(record.policy_targets).all() or (record.policy_targets < 0).any():
        raise RecordError(f"{where}: policy targets of full searches must be distributions")


# what read_record accepts of each array in a file: its number of dimensions, and the dtype kinds
# (numpy's dtype.kind letters) with a word for them
_INTEGER = ("iu", "integer")
_NUMBER = ("iuf", "number")
_FLOAT = ("f", "float")
_BOOL = ("b", "bool")
_STRING = ("U", "string")
_FIELD_SCHEMA = {
    "version": (0, _INTEGER), "board_size": (0, _INTEGER), "komi": (0, _NUMBER), "rules": (0, _STRING),
    "moves": (1, _INTEGER), "policy_targets": (2, _FLOAT), "full_search": (1, _BOOL), "result": (0, _NUMBER),
    "generation": (0, _INTEGER), "seed": (0, _INTEGER), "resign_disabled": (0, _BOOL), "resigned": (0, _BOOL),
    "false_resign": (0, _INTEGER), "weights_version": (0, _INTEGER),
}


def _check_arrays(arrays: dict[str, np.ndarray], path: str) -> None:
    """RecordError unless every field of a version-1 record is there, of the right kind and dimensions."""
    missing = sorted(set(_FIELD_SCHEMA) - arrays.keys())
    if missing:
        raise RecordError(f"record {path}: missing fields {missing}")
    for name, (ndim, (kinds, word)) in _FIELD_SCHEMA.items():
        a = arrays[name]
        if a.dtype.kind not in kinds or a.ndim != ndim:
            expected = f"{'an' if word[0] in 'aeiou' else 'a'} {word}" if ndim == 0 else f"a {ndim}-d {word} array"
            raise RecordError(f"record {path}: {name} must be {expected}, not a {a.ndim}-d {a.dtype} array")


def _atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_record(directory: str | os.PathLike, record: GameRecord) -> str:
    """Write `record` into `directory` (created if needed) atomically; returns the file's path."""
    check_record(record)
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, record.filename())
    false_resign = -1 if record.false_resign is None else int(record.false_resign)
    _atomic_savez(path, {
        "version": np.int64(RECORD_VERSION),
        "board_size": np.int64(record.board_size),
        "komi": np.float64(record.komi),
        "rules": np.array(record.rules),
        "moves": np.asarray(record.moves, dtype=np.int16),
        "policy_targets": np.asarray(record.policy_targets, dtype=np.float32),
        "full_search": np.asarray(record.full_search, dtype=bool),
        "result": np.float64(record.result),
        "generation": np.int64(record.generation),
        "seed": np.uint64(record.seed & 0xFFFF_FFFF_FFFF_FFFF),
        "resign_disabled": np.bool_(record.resign_disabled),
        "resigned": np.bool_(record.resigned),
        "false_resign": np.int8(false_resign),
        "weights_version": np.int64(record.weights_version),
        "winner_min_value": np.float64(record.winner_min_value),
    })
    return path


def read_record(path: str | os.PathLike) -> GameRecord:
    """Read one record; RecordError naming the file if it is corrupt, truncated, of another version or
    inconsistent."""
    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a lone .npy array: np.load returned it
            raise RecordError(f"record {path}: not a game record (a single array, not an .npz archive)")
        with data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise RecordError(f"record {path}: no such file") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        if isinstance(e, RecordError):
            raise
        # np.load on damaged bytes raises whichever of these the damage triggers; all mean "unusable"
        reason = " ".join(str(e).split())  # one line, whatever numpy's message
        raise RecordError(f"record {path}: corrupt or not a game record ({type(e).__name__}: {reason})") from None
    version = arrays.get("version")
    if version is None:
        raise RecordError(f"record {path}: not a game record (no version)")
    if version.dtype.kind not in _INTEGER[0] or version.ndim != 0:
        raise RecordError(f"record {path}: not a game record (version is a {version.ndim}-d {version.dtype} array)")
    if int(version) != RECORD_VERSION:
        raise RecordError(f"record {path}: format version {int(version)}, this code reads {RECORD_VERSION}")
    _check_arrays(arrays, path)
    false_resign = int(arrays["false_resign"])
    if false_resign not in (-1, 0, 1):
        raise RecordError(f"record {path}: false_resign {false_resign} is not -1 (none), 0 or 1")
    moves = arrays["moves"]
    if moves.size and (moves.min() < 0 or moves.max() > np.iinfo(np.int16).max):  # before the cast wraps them
        raise RecordError(f"record {path}: moves must be action indices, not {moves.min()}..{moves.max()}")
    try:
        record = GameRecord(
            board_size=int(arrays["board_size"]), komi=float(arrays["komi"]), rules=str(arrays["rules"]),
            moves=moves.astype(np.int16), policy_targets=arrays["policy_targets"].astype(np.float32),
            full_search=arrays["full_search"].astype(bool), result=float(arrays["result"]),
            generation=int(arrays["generation"]), seed=int(arrays["seed"]),
            resign_disabled=bool(arrays["resign_disabled"]), resigned=bool(arrays["resigned"]),
            false_resign=None if false_resign < 0 else bool(false_resign),
            weights_version=int(arrays["weights_version"]),
            winner_min_value=_optional_float(arrays, "winner_min_value", path),
        )
    except (TypeError, ValueError) as e:
        raise RecordError(f"record {path}: a field has the wrong type or shape ({e})") from None
    check_record(record, f"record {path}")
    return record


def _optional_float(arrays: dict[str, np.ndarray], name: str, path: str) -> float:
    """A 0-d number field added after version 1 was fixed: NaN when a file has none."""
    a = arrays.get(name)
    if a is None:
        return float("nan")
    if a.dtype.kind not in _NUMBER[0] or a.ndim != 0:
        raise RecordError(f"record {path}: {name} must be a number, not a {a.ndim}-d {a.dtype} array")
    return float(a)


def record_paths(directory: str | os.PathLike, max_generation: int | None = None) -> list[str]:
    """Paths of the records in `directory` in file-name order (generation, then seed), optionally only
    up to `max_generation`; temporary files of interrupted writes are skipped."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    out = []
    for name in sorted(os.listdir(directory)):
        m = FILE_PATTERN.match(name)
        if m and (max_generation is None or int(m.group(1)) <= max_generation):
            out.append(os.path.join(directory, name))
    return out


def iter_records(directory: str | os.PathLike, max_generation: int | None = None) -> Iterator[GameRecord]:
    """Every record in `directory`, in `record_paths` order."""
    for path in record_paths(directory, max_generation):
        yield read_record(path)


def save_sgf(record: GameRecord, path: str | os.PathLike) -> None:
    """The game as SGF (atomically, via goengine.sgf), both players named after the weights version."""
    from goengine import coords
    from goengine.sgf import save_game

    n = record.board_size
    moves = [("b" if t % 2 == 0 else "w", coords.action_to_gtp(int(a), n)) for t, a in enumerate(record.moves)]
    if record.resigned:
        result = "B+R" if record.result > 0 else "W+R"
    else:
        result = {1.0: "B+", -1.0: "W+", 0.0: "0"}[record.result]
        if record.result != 0:
            from goengine.position import Position

            pos = Position(n, record.komi, record.rules)
            for colour, vertex in moves:
                pos = pos.play(vertex, colour)
            result = pos.result()
    name = f"goengine-zero-v{record.weights_version}"
    save_game(path, moves, size=n, komi=record.komi, result=result, black_name=name, white_name=name,
              comment=f"self-play generation {record.generation}, seed {record.seed}", rules=record.rules)
