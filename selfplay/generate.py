"""`goengine data generate`: game records from strong engines, one SGF per game, resumable and parallel.

    goengine data generate --engine katago:visits=1 --size 9 --games 100 --workers 2 --out games/

Both sides play `--engine` unless `--white` names another spec (goengine.opponents). Games differ by
their openings: the first `--random-moves` moves (default 4 on 9x9, 8 on 19x19) are drawn uniformly from
the legal moves that fill no eye-like point, by our own RNG seeded from (--seed, game index), and sent to
both engines with `play`; the engines play on from there. The SGF marks those moves (`C[random opening
move]`) and its root comment gives the settings (canonical specs, seed, random moves), so that a record
says how it was made. Games are refereed by goengine.referee.Referee: every move checked by our rules,
finished games scored as `goengine match` scores them (an engine whose scoring is a search, KataGo, is
not asked: Tromp-Taylor area on the board as it stands; a cheap scorer such as GNU Go is asked).

Game i (0-based) is written to OUT/game-{i+1:06d}.sgf atomically (goengine.atomic) and is a function of
(--seed, i) and the engines: a rerun of the same command plays only the games whose file is missing. A
game lost by a crash, a timeout or an engine's failure is not written (the rerun plays it again).

`GameGenerator` is a plain class holding its own engine processes, started at its first game and reused;
with `--workers 1` it plays in this process, with more it is made a Ray actor here (one per worker, on an
embedded Ray started by selfplay.orchestrator.start_ray, whose reaper ends every process if this one is
killed) and games are collected with `ray.wait` in completion order. Ray is imported only then.

Temperature sampling is not offered: KataGo's move temperature is a setting of its GTP config, which
goengine.katago writes, and at 1 visit it would act on the raw policy; the random openings already make
the games differ.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from goengine import atomic, checks, opponents
from goengine.gtp.client import GtpProcess
from goengine.referee import MatchConfig, Referee, random_opening
from goengine.position import Position

RANDOM_MOVE_COMMENT = "random opening move"
FAILED_REASONS = frozenset({"crash", "timeout", "failure", "illegal move"})
"""How a game can end that says nothing about the position: such a game is not written."""
MAX_RESTARTS_PER_WORKER = 3


def default_random_moves(size: int) -> int:
    """Random opening moves when --random-moves is not given: 4 on 9x9, 6 on 13x13, 8 on 19x19."""
    return max(1, round(size * 4 / 9))


@dataclass(frozen=True)
class GenerateConfig:
    black: opponents.Opponent
    """Black's engine."""
    white: opponents.Opponent
    """White's engine (the same spec as Black's unless --white)."""
    out_dir: str
    """Where the SGFs go."""
    size: int = 9
    """Board size."""
    komi: float = 7.0
    """Komi."""
    games: int = 1
    """Games in the whole run (indices 0 .. games-1); those already on disk are skipped."""
    seed: int = 0
    """The run's seed; game i's seed is game_seed(seed, i)."""
    random_moves: int = 4
    """Opening moves drawn at random before the engines play."""

    def __post_init__(self) -> None:
        checks.integer("games", self.games, 1)
        checks.seed("seed", self.seed)
        checks.integer("random_moves", self.random_moves, 0, self.size * self.size - 1)

    def settings(self) -> str:
        """The settings that make the games what they are: the start of every SGF's root comment."""
        return (f"goengine data generate: black {self.black}, white {self.white}, size {self.size}, "
                f"komi {self.komi:g}, seed {self.seed}, random moves {self.random_moves}")

    def match_config(self) -> MatchConfig:
        return MatchConfig(games=self.games, size=self.size, komi=self.komi, alternate=False,
                           ask_to_score=tuple(o.kind not in opponents.SCORING_IS_A_SEARCH
                                              for o in (self.black, self.white)))


def game_seed(seed: int, index: int) -> int:
    """Game `index`'s 64-bit seed from the run's seed."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def game_path(out_dir: str, index: int) -> str:
    return os.path.join(out_dir, f"game-{index + 1:06d}.sgf")


@dataclass(frozen=True)
class GameSummary:
    index: int
    path: str | None
    """The SGF written, None for a failed game (not written)."""
    result: str
    """SGF RE."""
    reason: str
    detail: str
    moves: int
    seconds: float


def sgf_bytes(config: GenerateConfig, index: int, moves: list[str], opening: int, result: str) -> bytes:
    """Game `index` as SGF: the moves (Black first), RE and KM, the first `opening` nodes commented as
    random, and the settings, game number and game seed in the root comment."""
    from sgfmill import sgf as sgfmill_sgf

    from goengine import sgf

    colours = ("b", "w")
    comment = (f"{config.settings()}; game {index + 1}, game seed {game_seed(config.seed, index)}; "
               f"moves 1-{opening} random" if opening else f"{config.settings()}; game {index + 1}")
    record = sgf.GameRecord(size=config.size, komi=config.komi,
                            moves=tuple((colours[i % 2], v) for i, v in enumerate(moves)), result=result,
                            black_name=str(config.black), white_name=str(config.white), rules="Chinese",
                            comment=comment, date=datetime.date.today().isoformat())
    game = sgfmill_sgf.Sgf_game.from_bytes(sgf.game_to_sgf(record))
    for node in game.get_main_sequence()[1:opening + 1]:
        node.set("C", RANDOM_MOVE_COMMENT)
    return game.serialise()


class GameGenerator:
    """Plays games of one run on its own pair of engine processes (started at its first game, kept for the
    next; one that crashed is started afresh) and writes each one's SGF. `argvs`: Black's and White's
    command lines (goengine.opponents.command, in a folder of this worker's)."""

    def __init__(self, config: GenerateConfig, argvs: tuple[list[str], list[str]]):
        self.config = config
        self.black = GtpProcess(argvs[0], str(config.black))
        self.white = GtpProcess(argvs[1], str(config.white))
        self.referee = Referee(config.match_config(), self.black, self.white)

    def play(self, index: int) -> GameSummary:
        c = self.config
        opening = random_opening(Position(c.size, c.komi, "chinese"), c.random_moves, game_seed(c.seed, index))
        game = self.referee.play_game(index, opening)
        path = None
        if game.reason not in FAILED_REASONS:
            path = game_path(c.out_dir, index)
            atomic.write_bytes(path, sgf_bytes(c, index, game.moves, len(opening), game.result))
        return GameSummary(index, path, game.result, game.reason, game.detail, len(game.moves), game.seconds)

    def close(self) -> None:
        self.black.close()
        self.white.close()


def play_local(config: GenerateConfig, todo: list[int], argvs) -> Iterator[GameSummary]:
    """The games `todo` in this process, in order."""
    generator = GameGenerator(config, argvs)
    try:
        for index in todo:
            yield generator.play(index)
    finally:
        generator.close()


def play_on_ray(config: GenerateConfig, todo: list[int], argvs_per_worker: list) -> Iterator[GameSummary]:
    """The games `todo` on one GameGenerator actor per entry of `argvs_per_worker`, yielded in completion
    order. A dead actor is replaced and its game played again; a worker's exception is re-raised as itself."""
    import ray

    from selfplay.orchestrator import start_ray, stop_reaper

    reaper = None
    owns_ray = not ray.is_initialized()
    if owns_ray:
        _warm(config.size)
        reaper = start_ray(None, len(argvs_per_worker))
    actors: list = []
    try:
        remote_cls = ray.remote(num_cpus=1)(GameGenerator)
        actors = [remote_cls.remote(config, argvs) for argvs in argvs_per_worker]
        pending = list(todo)
        inflight = {}  # object ref -> (worker, game index)
        for worker in range(len(actors)):
            if pending:
                index = pending.pop(0)
                inflight[actors[worker].play.remote(index)] = (worker, index)
        restarts = 0
        while inflight:
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            worker, index = inflight.pop(ref)
            try:
                yield ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                raise e.as_instanceof_cause() from None
            except ray.exceptions.RayActorError:
                restarts += 1
                if restarts > MAX_RESTARTS_PER_WORKER * len(actors):
                    raise RuntimeError(f"data generate: workers died {restarts} times; giving up") from None
                actors[worker] = remote_cls.remote(config, argvs_per_worker[worker])
                pending.insert(0, index)
            if pending:
                index = pending.pop(0)
                inflight[actors[worker].play.remote(index)] = (worker, index)
    finally:
        try:  # engines closed by their owners (a killed actor's engines would wait for EOF on stdin)
            ray.get([a.close.remote() for a in actors], timeout=30)
        except Exception:  # noqa: BLE001 - dead actors, a dead cluster: the kills and the reaper end the rest
            pass
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        if owns_ray:
            try:
                ray.shutdown()
            finally:
                stop_reaper(reaper)


def _warm(size: int) -> None:
    """Compile the kernels a worker uses into the cache here, so that no two workers compile them at once
    (goengine.warmup.warm compiles every kernel, search and features too: a minute on a cold cache)."""
    position = Position(size, 7.0, "chinese")
    for vertex in random_opening(position, 2, 0):
        position = position.play(vertex)
    position.score()
    position.with_stones(empty=[position.history[-1][1]])


# --- the command line ---

def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="action", required=True)
    p = sub.add_parser("generate", help="play games between engines and write one SGF per game",
                       description="play games between engines (random openings, then the engines) and write "
                                   "one SGF per game; a rerun plays only the games missing from --out")
    p.add_argument("--engine", required=True,
                   help="the engine of both sides (Black's with --white): a spec such as katago:visits=1, "
                        "gnugo:level=10, goengine:playouts=1000 or gtp:\"COMMAND\"")
    p.add_argument("--white", default=None, help="White's engine, if not --engine")
    p.add_argument("--size", type=int, default=9)
    p.add_argument("--komi", type=float, default=7.0)
    p.add_argument("--games", type=int, default=10, help="games in the run (those already in --out are skipped)")
    p.add_argument("--workers", type=int, default=1, help="parallel games, each worker with its own engines "
                                                          "(more than 1: Ray actors)")
    p.add_argument("--out", required=True, help="folder for the SGFs (game-000001.sgf, ...)")
    p.add_argument("--seed", type=int, default=0, help="the run's seed; each game's comes from it and its index")
    p.add_argument("--random-moves", type=int, default=None,
                   help="random opening moves (default 4 on 9x9, 8 on 19x19)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar on stderr (default: on)")
    from rl.alphago_lee import convert  # no torch: the converter needs goengine only

    convert.add_arguments(sub.add_parser("convert", help=convert.HELP, description=convert.HELP))


def run(args: argparse.Namespace) -> int:
    from goengine.cli import UserError

    if args.action == "convert":
        from rl.alphago_lee import convert

        return convert.run(args)

    specs = []
    for flag, text in (("--engine", args.engine), ("--white", args.white or args.engine)):
        try:
            specs.append(opponents.parse_opponent(text))
        except ValueError as e:
            raise UserError(f"{flag} {e}") from None
    try:
        Position(args.size, args.komi, "chinese")  # a bad size or komi in one line
        checks.integer("--workers", args.workers, 1)
        config = GenerateConfig(black=specs[0], white=specs[1], out_dir=os.path.abspath(args.out), size=args.size,
                                komi=args.komi, games=args.games, seed=args.seed,
                                random_moves=(default_random_moves(args.size) if args.random_moves is None
                                              else args.random_moves))
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(checks.renamed(e, {"games": "--games", "seed": "--seed", "random_moves": "--random-moves"}))
    todo = [i for i in range(config.games) if not os.path.exists(game_path(config.out_dir, i))]
    _check_same_settings(config, todo)
    if not todo:
        print(f"nothing to play: the {config.games} games are in {config.out_dir}")
        return 0
    workers = min(args.workers, len(todo))
    with tempfile.TemporaryDirectory(prefix="goengine-data-") as workdir:
        argvs_per_worker = []
        for worker in range(workers):  # each engine its own folder: KataGo's config and logs
            argvs = []
            for flag, side, spec in (("--engine", "black", specs[0]), ("--white" if args.white else "--engine",
                                                                      "white", specs[1])):
                try:
                    argvs.append(opponents.command(spec, board_size=config.size,
                                                   workdir=os.path.join(workdir, f"worker{worker}-{side}")))
                except ValueError as e:  # goengine.katago.KataGoMissing is one
                    raise UserError(f"{flag} {spec}: {e}") from None
            argvs_per_worker.append(tuple(argvs))
        os.makedirs(config.out_dir, exist_ok=True)
        games = (play_local(config, todo, argvs_per_worker[0]) if workers == 1
                 else play_on_ray(config, todo, argvs_per_worker))
        return _collect(config, games, len(todo), args.progress)


def _check_same_settings(config: GenerateConfig, todo: list[int]) -> None:
    """UserError if --out holds games of this run's indices made with other settings (a rerun must be the
    same command, else the folder would mix two runs)."""
    from goengine import sgf
    from goengine.cli import UserError

    missing = set(todo)
    done = next((i for i in range(config.games) if i not in missing), None)
    if done is None:
        return
    path = game_path(config.out_dir, done)
    try:
        comment = sgf.load_game(path).comment or ""
    except sgf.SgfError as e:
        raise UserError(f"--out: {e}") from None
    if comment.split(";")[0] != config.settings():
        raise UserError(f"--out {config.out_dir} holds games of other settings ({path}: "
                        f"{comment.split(';')[0]!r}): choose another folder or the same settings")


def _collect(config: GenerateConfig, games: Iterator[GameSummary], total: int, progress: bool) -> int:
    from tqdm import tqdm

    started = time.monotonic()
    written: list[GameSummary] = []
    failed: list[GameSummary] = []
    bar = tqdm(total=total, unit="game", file=sys.stderr, disable=not progress, leave=False)
    try:
        for game in games:
            (written if game.path else failed).append(game)
            bar.update(1)
            if not game.path:
                print(f"game {game.index + 1}: not written, {game.reason}: {game.detail}", file=sys.stderr)
    finally:
        bar.close()
        games.close()  # a generator: its engines and Ray end now, also on Ctrl-C
    seconds = time.monotonic() - started
    n = len(written)
    black_points = sum(1.0 if g.result.startswith("B+") else 0.5 if g.result == "0" else 0.0 for g in written)
    print(f"wrote {n} games in {seconds:.0f}s ({n * 3600 / seconds if seconds else 0:.1f} games/hour), "
          f"mean {sum(g.moves for g in written) / max(1, n):.1f} moves, Black won {black_points / max(1, n):.0%}"
          + (f", {len(failed)} failed (rerun to play them again)" if failed else "")
          + f"; SGFs in {config.out_dir}")
    return 1 if failed else 0
