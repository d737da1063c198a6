"""`goengine data convert`: a collection of SGF game records -> the training records of rl/alphago_lee/dataset.py.

    goengine data convert /work/data/katago9 --out data/k9
    goengine data convert 'kgs/**/*.sgf' kgs-2019.tar.gz --board-size 19 --min-rank 1d --out data/kgs

Inputs are folders (searched recursively), globs, .sgf files, and archives (.zip, .tar, .tar.gz, .tgz)
whose .sgf members are read in place. Each game is read with goengine.sgf, filtered, replayed with our
rules (goengine.sgf.replay: the record's RU, Chinese when it names none we know), and kept or dropped with
a reason counted in the summary:

    malformed     the file is not a readable SGF game (its name is listed in meta.json)
    size          SZ is not --board-size
    rules         RU is not one of --rules (when given)
    handicap      HA above --max-handicap
    short         fewer than --min-moves moves
    rank          BR or WR, where the record gives one, below --min-rank
    edited        setup stones after the first move (an edited record, not a game)
    illegal move  a move our rules refuse (superko, suicide, occupied point)
    duplicate     the same moves as a game already kept (identical games would leak between splits)

Each kept game goes to train, val or test by a hash of its moves, so the split is by game and the same
input gives the same split. Shards are written atomically; meta.json, written last, names them.
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import hashlib
import json
import os
import re
import sys
import tarfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from goengine import checks, coords
from goengine.atomic import atomic_open
from rl.alphago_lee.dataset import (FEATURE_SET, FORMAT, FORMAT_VERSION, META_FILE, SPLITS, pack_planes,
                                    shard_name)

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DROP_REASONS = ("malformed", "size", "rules", "handicap", "short", "rank", "edited", "illegal move", "duplicate")
_RANDOM_MOVES = re.compile(r"moves 1-(\d+) random")  # the root comment of goengine data generate
_RANK = re.compile(r"(\d+)\s*([kdp])", re.IGNORECASE)


@dataclass(frozen=True)
class ConvertConfig:
    """What `goengine data convert` keeps and how it writes it."""

    board_size: int = 9
    """Games of other sizes are dropped."""
    rules: tuple[str, ...] = ()
    """Rule set names to keep (goengine.rules names); empty: any."""
    max_handicap: int = 0
    """Games with more handicap stones are dropped."""
    min_moves: int = 20
    """Games with fewer moves (passes included) are dropped."""
    min_rank: str | None = None
    """"1d", "5k", "3p": a game whose record gives a player's rank below this is dropped."""
    val_fraction: float = 0.05
    """Share of games in the validation split."""
    test_fraction: float = 0.05
    """Share of games in the test split."""
    planes: str = "stored"
    """"stored": the 48 planes computed here, once; "load": moves only, planes computed when read."""
    shard_games: int = 1000
    """Games per shard file."""

    def __post_init__(self) -> None:
        if not coords.MIN_SIZE <= self.board_size <= coords.MAX_SIZE:
            raise ValueError(f"board_size must be in {coords.MIN_SIZE}..{coords.MAX_SIZE}, got {self.board_size}")
        from goengine.rules import rules_from

        for name in self.rules:
            rules_from(name)  # ValueError naming the known rule sets
        checks.integer("max_handicap", self.max_handicap, 0)
        checks.integer("min_moves", self.min_moves, 0)
        checks.integer("shard_games", self.shard_games, 1)
        if self.min_rank is not None:
            rank_value(self.min_rank, "min_rank")
        checks.number("val_fraction", self.val_fraction, 0, 1)
        checks.number("test_fraction", self.test_fraction, 0, 1)
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction and test_fraction must leave games for training (sum below 1)")
        if self.planes not in ("stored", "load"):
            raise ValueError(f"planes must be 'stored' or 'load', not {self.planes!r}")


def rank_value(text: str, name: str | None = None) -> int | None:
    """A rank as a number that grows with strength (30k = -30, 1k = -1, 1d = 0, 9d = 8, 1p = 9); None when
    `text` is no rank (ValueError instead when `name` is given: a flag's value)."""
    m = _RANK.search(text or "")
    if not m:
        if name:
            raise ValueError(f"{name} must be a rank such as 5k, 1d or 3p, not {text!r}")
        return None
    n, kind = int(m.group(1)), m.group(2).lower()
    return -n if kind == "k" else n - 1 if kind == "d" else 8 + n


# --- finding the records ---

def _is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _is_sgf(name: str) -> bool:
    return name.lower().endswith(".sgf")


def find_files(inputs: list[str]) -> list[str]:
    """The .sgf files and archives named by `inputs` (files, folders searched recursively, globs), sorted
    within each input; ValueError for an input that names nothing."""
    out: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = [os.path.join(d, f) for d, _, files in os.walk(item) for f in files
                     if _is_sgf(f) or _is_archive(f)]
        elif os.path.isfile(item):
            found = [item]
        elif glob.has_magic(item):
            found = [f for f in glob.glob(item, recursive=True) if os.path.isfile(f) and (_is_sgf(f) or _is_archive(f))]
        else:
            raise ValueError(f"{item}: no such file or folder")
        if not found:
            raise ValueError(f"{item}: no .sgf files or archives in it")
        out.extend(sorted(found))
    return out


def iter_records(files: list[str]) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(name, data, None) for each SGF, inside archives too (name "archive:member"); (name, None, why) for
    an archive or file that cannot be read."""
    for path in files:
        lower = path.lower()
        try:
            if lower.endswith(".zip"):
                with zipfile.ZipFile(path) as z:
                    for member in sorted(z.namelist()):
                        if _is_sgf(member):
                            yield f"{path}:{member}", z.read(member), None
            elif _is_archive(path):
                with tarfile.open(path, "r:*") as t:
                    for member in t:
                        if member.isfile() and _is_sgf(member.name):
                            yield f"{path}:{member.name}", t.extractfile(member).read(), None
            else:
                with open(path, "rb") as f:
                    yield path, f.read(), None
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            yield path, None, f"cannot read: {e}"


# --- one game ---

@dataclass
class Converted:
    """One kept game, in the shard layout."""

    name: str
    komi: float
    rules: str
    setup: np.ndarray
    first_to_play: int
    moves_action: np.ndarray
    moves_colour: np.ndarray
    winner: int
    move_number_P: np.ndarray
    action_P: np.ndarray
    to_play_P: np.ndarray
    planes_packed: np.ndarray | None
    key: bytes = field(repr=False, default=b"")


def _winner(result: str | None) -> int:
    text = (result or "").strip().upper()
    return 1 if text.startswith("B+") else -1 if text.startswith("W+") else 0


def convert_game(name: str, data: bytes, config: ConvertConfig) -> tuple[Converted | None, str | None, str]:
    """(game, None, "") when kept, else (None, reason, detail)."""
    from goengine import sgf
    from goengine.rules import rules_from

    try:
        record = sgf.load_game(data, name=name)
    except sgf.SgfError as e:
        return None, "malformed", str(e)
    size = config.board_size
    if record.size != size:
        return None, "size", f"{record.size}x{record.size}"
    rules = sgf.record_rules(record)
    if config.rules and rules.name not in {rules_from(r).name for r in config.rules}:
        return None, "rules", rules.name
    if record.handicap > config.max_handicap:
        return None, "handicap", str(record.handicap)
    if len(record.moves) < config.min_moves:
        return None, "short", f"{len(record.moves)} moves"
    if config.min_rank is not None:
        floor = rank_value(config.min_rank)
        for tag in (b"BR", b"WR"):
            m = re.search(rb"[;\s\]]" + tag + rb"\[([^\]]*)\]", data)
            value = rank_value(m.group(1).decode("utf-8", "replace")) if m else None
            if value is not None and value < floor:
                return None, "rank", f"{tag.decode()} {m.group(1).decode('utf-8', 'replace')}"
    if record.later_setup:
        return None, "edited", f"setup before move {record.later_setup[0].before_move + 1}"
    try:
        positions = sgf.replay(record)
    except sgf.SgfError as e:
        return None, ("illegal move" if "illegal" in str(e) else "malformed"), str(e)
    random_moves = _RANDOM_MOVES.search(record.comment or "")
    skip = int(random_moves.group(1)) if random_moves else 0
    n2 = size * size
    actions = np.array([coords.gtp_to_action(v, size) for _, v in record.moves], dtype=np.int16)
    colours = np.array([1 if c == "b" else 2 for c, _ in record.moves], dtype=np.int8)
    rows = [i for i in range(skip, len(actions))
            if actions[i] != n2 and positions[i].board.to_play == colours[i]]
    planes = None
    if config.planes == "stored":
        from goengine.features import extract

        planes = pack_planes(np.stack([extract(positions[i], FEATURE_SET) for i in rows])) if rows else \
            np.zeros((0, (48 * n2 + 7) // 8), np.uint8)
    start = positions[0]
    game = Converted(name=name, komi=float(record.komi), rules=rules.name,
                     setup=start.board_array().reshape(-1).astype(np.int8),
                     first_to_play=1 if start.to_play == "b" else 2, moves_action=actions, moves_colour=colours,
                     winner=_winner(record.result), move_number_P=np.array(rows, dtype=np.int16) + 1,
                     action_P=actions[rows].astype(np.int16), to_play_P=colours[rows], planes_packed=planes,
                     key=hashlib.sha1(start.board_array().tobytes() + actions.tobytes() + colours.tobytes()).digest())
    return game, None, ""


def split_of(key: bytes, config: ConvertConfig) -> str:
    """train / val / test from a game's hash: the same game always lands in the same split."""
    u = int.from_bytes(key[:8], "big") / 2.0 ** 64
    return "val" if u < config.val_fraction else "test" if u < config.val_fraction + config.test_fraction else "train"


# --- writing ---

def write_shard(path: str, games: list[Converted], planes_stored: bool) -> None:
    lengths = [len(g.moves_action) for g in games]
    arrays = {
        "game_offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "moves_action": np.concatenate([g.moves_action for g in games]).astype(np.int16),
        "moves_colour": np.concatenate([g.moves_colour for g in games]).astype(np.int8),
        "setup": np.stack([g.setup for g in games]).astype(np.int8),
        "first_to_play": np.array([g.first_to_play for g in games], dtype=np.int8),
        "komi": np.array([g.komi for g in games], dtype=np.float32),
        "rules": np.array([g.rules for g in games], dtype=str),
        "winner": np.array([g.winner for g in games], dtype=np.int8),
        "name": np.array([g.name for g in games], dtype=str),
        "game_P": np.concatenate([np.full(len(g.action_P), i, np.int32) for i, g in enumerate(games)]),
        "move_number_P": np.concatenate([g.move_number_P for g in games]).astype(np.int16),
        "action_P": np.concatenate([g.action_P for g in games]).astype(np.int16),
        "to_play_P": np.concatenate([g.to_play_P for g in games]).astype(np.int8),
    }
    if planes_stored:
        arrays["planes_packed"] = np.concatenate([g.planes_packed for g in games])
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


@dataclass
class Summary:
    kept: Counter = field(default_factory=Counter)  # split -> games
    positions: Counter = field(default_factory=Counter)  # split -> examples
    dropped: Counter = field(default_factory=Counter)  # reason -> games
    malformed: list[str] = field(default_factory=list)  # "name: why"
    seconds: float = 0.0

    def line(self) -> str:
        kept = sum(self.kept.values())
        drops = ", ".join(f"{n} {r}" for r, n in sorted(self.dropped.items(), key=lambda x: -x[1])) or "none"
        splits = ", ".join(f"{s} {self.kept[s]} games / {self.positions[s]} positions" for s in SPLITS)
        return f"kept {kept} games ({splits}); dropped {sum(self.dropped.values())} ({drops}); {self.seconds:.0f}s"


def convert(inputs: list[str], out: str, config: ConvertConfig, progress: bool = False) -> Summary:
    """Convert every record under `inputs` into the dataset folder `out` (see module docstring)."""
    from tqdm import tqdm

    started = time.monotonic()
    files = find_files(inputs)
    os.makedirs(out, exist_ok=True)
    if os.path.exists(os.path.join(out, META_FILE)):
        os.unlink(os.path.join(out, META_FILE))  # the folder is not a dataset until the new meta.json is written
    for stale in os.listdir(out):
        if any(fnmatch.fnmatch(stale, f"{s}-*.npz") for s in SPLITS):
            os.unlink(os.path.join(out, stale))
    summary = Summary()
    pending: dict[str, list[Converted]] = {s: [] for s in SPLITS}
    shards: dict[str, list[str]] = {s: [] for s in SPLITS}
    seen: set[bytes] = set()

    def flush(split: str) -> None:
        if pending[split]:
            name = shard_name(split, len(shards[split]))
            write_shard(os.path.join(out, name), pending[split], config.planes == "stored")
            shards[split].append(name)
            pending[split] = []

    bar = tqdm(iter_records(files), unit="game", file=sys.stderr, disable=not progress, leave=False,
               total=None if any(_is_archive(f) for f in files) else len(files))
    for name, data, why in bar:
        if data is None:
            summary.dropped["malformed"] += 1
            summary.malformed.append(f"{name}: {why}")
            continue
        game, reason, detail = convert_game(name, data, config)
        if game is not None and game.key in seen:
            game, reason, detail = None, "duplicate", ""
        if game is None:
            summary.dropped[reason] += 1
            if reason == "malformed":
                summary.malformed.append(detail if detail.startswith(name) else f"{name}: {detail}")
            continue
        seen.add(game.key)
        split = split_of(game.key, config)
        summary.kept[split] += 1
        summary.positions[split] += len(game.action_P)
        pending[split].append(game)
        if len(pending[split]) >= config.shard_games:
            flush(split)
        bar.set_postfix(kept=sum(summary.kept.values()), dropped=sum(summary.dropped.values()), refresh=False)
    bar.close()
    for split in SPLITS:
        flush(split)
    summary.seconds = time.monotonic() - started
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "board_size": config.board_size,
        "feature_set": FEATURE_SET, "planes": config.planes,
        "splits": {s: {"shards": shards[s], "games": summary.kept[s], "positions": summary.positions[s]}
                   for s in SPLITS},
        "inputs": [os.path.abspath(i) for i in inputs],
        "filters": {"board_size": config.board_size, "rules": list(config.rules), "max_handicap": config.max_handicap,
                    "min_moves": config.min_moves, "min_rank": config.min_rank,
                    "val_fraction": config.val_fraction, "test_fraction": config.test_fraction},
        "dropped": dict(summary.dropped), "malformed": summary.malformed, "seconds": round(summary.seconds, 1),
    }
    with atomic_open(os.path.join(out, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    return summary


# --- the command line ---

HELP = "SGF collections (folders, globs, .zip/.tar.gz) -> training records for AlphaGo Lee's stages"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="DIR_OR_GLOB",
                        help="folders (recursive), globs, .sgf files or .zip/.tar/.tar.gz archives of SGFs")
    parser.add_argument("--out", required=True, help="dataset folder to write (its old shards are replaced)")
    parser.add_argument("--board-size", type=int, default=9, help="keep games of this size (default 9)")
    parser.add_argument("--rules", default=None,
                        help="keep games of these rule sets, comma separated (e.g. chinese,japanese; default any)")
    parser.add_argument("--max-handicap", type=int, default=0, help="drop games with more handicap stones (default 0)")
    parser.add_argument("--min-moves", type=int, default=20, help="drop games with fewer moves (default 20)")
    parser.add_argument("--min-rank", default=None, help="drop games where BR/WR gives a rank below this (e.g. 1d)")
    parser.add_argument("--val", type=float, default=0.05, help="share of games for validation (default 0.05)")
    parser.add_argument("--test", type=float, default=0.05, help="share of games for the test split (default 0.05)")
    parser.add_argument("--planes", choices=("stored", "load"), default="stored",
                        help="compute the 48 planes now (stored, default) or when the data is read (load)")
    parser.add_argument("--shard-games", type=int, default=1000, help="games per shard file (default 1000)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bar on stderr (default: on)")


FLAGS = {"board_size": "--board-size", "max_handicap": "--max-handicap", "min_moves": "--min-moves",
         "min_rank": "--min-rank", "val_fraction": "--val", "test_fraction": "--test", "shard_games": "--shard-games",
         "rules": "--rules"}


def run(args: argparse.Namespace) -> int:
    from goengine.cli import UserError

    try:
        if args.val + args.test >= 1:
            raise ValueError("--val and --test must add up to less than 1 (games must be left for training)")
        config = ConvertConfig(board_size=args.board_size,
                               rules=tuple(r.strip() for r in args.rules.split(",") if r.strip()) if args.rules else (),
                               max_handicap=args.max_handicap, min_moves=args.min_moves, min_rank=args.min_rank,
                               val_fraction=args.val, test_fraction=args.test, planes=args.planes,
                               shard_games=args.shard_games)
        checks.output_folder("--out", args.out)
        find_files(args.inputs)  # an input that names nothing fails before any work
    except ValueError as e:
        message = str(e)
        if message.startswith("unknown rules"):
            message = f"--rules: {message}"
        raise UserError(checks.renamed(e, FLAGS) if not message.startswith("--") else message) from None
    summary = convert(args.inputs, args.out, config, progress=args.progress)
    for line in summary.malformed[:20]:
        print(f"malformed: {line}", file=sys.stderr)
    if len(summary.malformed) > 20:
        print(f"... and {len(summary.malformed) - 20} more malformed (all listed in {args.out}/{META_FILE})",
              file=sys.stderr)
    print(f"goengine data convert: {summary.line()}; records in {args.out}")
    if not sum(summary.kept.values()):
        print("goengine data convert: no game kept: check --board-size and the filters", file=sys.stderr)
        return 1
    return 0
