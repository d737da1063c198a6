"""`goengine match`: games between two GTP engines, each named by a spec or a command line, refereed
by goengine/referee.py.

    goengine match --black goengine:playouts=1000 --white gnugo:level=1 --games 10 --size 9
    goengine match --black "goengine gtp --engine random" \\
                   --white "/usr/games/gnugo --mode gtp --chinese-rules --level 1" --games 10 --size 9

A side that starts with a kind of goengine.opponents (`katago:visits=16`, `gnugo`, `gtp:"prog --flag"`)
is a spec: it is checked, and its engine found, before any engine starts, and its canonical spec is the
engine's name in the games and the summary (SGF PB/PW too). Anything else is a whole command line, named
by the engine's GTP `name` and `version`. `--scorer SPEC` names a third engine that scores the games
ending by passes (the referee's rules: goengine/referee.py).

The first engine (`--black`) takes Black in odd games and White in even ones (`--no-alternate` keeps
colours). A side whose kind's scoring is a search (opponents.SCORING_IS_A_SEARCH) is not asked to score.

The summary (goengine/match_stats.py) gives the first engine's score (wins plus half the draws, over
games) with its 95% Wilson interval, and the same as logistic Elo. With `--sprt ELO0,ELO1` the match is a
sequential test (goengine/sprt.py): it stops once the games accept one of the two Elo differences, judged
by colour-swapped pairs when colours alternate, and --games is the most it plays. `--concurrency N` plays
N games at once on N lanes, each with its own copy of every engine (cutechess-cli's -concurrency); a lane
plays both games of a pair, and once the test decides no lane starts another game.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import sys
import tempfile
import threading
from dataclasses import replace

from goengine import checks, opponents, sprt
from goengine.gtp.client import EngineCrashed, EngineTimeout, GtpProcess
from goengine.handicap import fixed_handicap_vertices
from goengine.match_stats import GameResult, elo_of_score, sprt_status, summarise
from goengine.position import Position
from goengine.referee import SETUP_TIMEOUT_S, MatchConfig, Referee, opening_for_pair

MAX_CONCURRENCY = 64
"""The most lanes --concurrency takes."""


class _Progress:
    """tqdm on stderr when installed, else a one-line bar."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled, self._bar = total, 0, enabled, None
        if enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, unit="game", file=sys.stderr, leave=False)
            except ImportError:
                self._draw()

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        sys.stderr.write(f"\rmatch [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
        sys.stderr.flush()

    def update(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
        else:
            self._draw()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--black", required=True,
                        help="the first engine (Black in game 1): a spec such as katago:visits=16, gnugo:level=10, "
                             "goengine:playouts=1000 or gtp:\"COMMAND\", or a whole command line")
    parser.add_argument("--white", required=True, help="the second engine, as --black")
    parser.add_argument("--games", type=int, default=2)
    parser.add_argument("--size", type=int, default=9)
    parser.add_argument("--komi", type=float, default=7.0)
    parser.add_argument("--handicap", type=int, default=0)
    parser.add_argument("--max-moves", type=int, default=0, help="score the game after this many moves (0: 3*size*size)")
    parser.add_argument("--seconds-per-move", type=float, default=None, help="per-move limit (loss on time past it plus --grace)")
    parser.add_argument("--grace", type=float, default=1.0, help="seconds of tolerance on the per-move limit")
    parser.add_argument("--rules", default="chinese", help="rules the referee judges moves by")
    parser.add_argument("--random-moves", type=int, default=0,
                        help="start each pair of games (colours swapped) from this many seeded random moves, so "
                             "that deterministic engines do not replay one game (default 0: the empty board)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random openings")
    parser.add_argument("--scorer", default=None, metavar="ENGINE",
                        help="a third engine (a spec such as gnugo, or a command line) that scores the games ending "
                             "by passes: it is sent each game and asked final_score, as gogui-twogtp's -referee "
                             "(default: the engines' agreed score, else Tromp-Taylor)")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="games played at once, each lane with its own engines, as cutechess-cli's "
                             "-concurrency; give each game its cores (default 1)")
    parser.add_argument("--out", default=None, help="directory for one SGF per game")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (game lines go to stderr)")
    parser.add_argument("--alternate", action=argparse.BooleanOptionalAction, default=True,
                        help="swap colours every game (default: on)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bar on stderr (default: on)")
    parser.add_argument("--sprt", metavar="ELO0,ELO1", default=None,
                        help="a sequential test: stop once the games show the first engine ELO0 (H0) or ELO1 (H1) "
                             "Elo stronger, e.g. 0,10; --games is then the most it plays")
    parser.add_argument("--sprt-alpha", type=float, default=0.05, help="--sprt: chance to accept ELO1 when ELO0 holds")
    parser.add_argument("--sprt-beta", type=float, default=0.05, help="--sprt: chance to accept ELO0 when ELO1 holds")


def run(args: argparse.Namespace) -> int:
    from goengine.cli import UserError

    flags = {"games": "--games", "max_moves": "--max-moves", "seconds_per_move": "--seconds-per-move",
             "grace_s": "--grace"}
    try:
        config = MatchConfig(games=args.games, size=args.size, komi=args.komi, handicap=args.handicap,
                             max_moves=args.max_moves, seconds_per_move=args.seconds_per_move, grace_s=args.grace,
                             alternate=args.alternate, rules=args.rules, out_dir=args.out)
    except ValueError as e:
        raise UserError(checks.renamed(e, flags)) from None
    Position(config.size, config.komi, config.rules)  # bad size/komi/rules: one line, before any engine starts
    try:
        checks.integer("--random-moves", args.random_moves, 0, config.size * config.size - 1)
        checks.seed("--seed", args.seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    test = None
    if args.sprt is not None:
        try:
            elo0, elo1 = sprt.parse(args.sprt)
            test = sprt.SPRT(elo0, elo1, args.sprt_alpha, args.sprt_beta)
        except ValueError as e:
            raise UserError(checks.renamed(e, {"elo0": "--sprt ELO0", "elo1": "--sprt ELO1",
                                               "alpha": "--sprt-alpha", "beta": "--sprt-beta"})) from None
    if args.random_moves and config.handicap:
        raise UserError("--random-moves is for even games; a handicap game starts from its stones")
    if config.handicap and not 2 <= config.handicap:
        raise UserError("--handicap must be 0 or at least 2")
    if config.handicap:
        fixed_handicap_vertices(config.handicap, config.size)  # ValueError names the allowed range
    if config.out_dir is not None:
        checks.output_folder("--out", config.out_dir)
        taken = [name for name in (f"game-{i + 1:03d}.sgf" for i in range(config.games))
                 if os.path.exists(os.path.join(config.out_dir, name))]
        if taken:
            raise UserError(f"--out {config.out_dir} already holds {taken[0]}: choose another folder")
    try:
        checks.integer("--concurrency", args.concurrency, 1, MAX_CONCURRENCY)
    except ValueError as e:
        raise UserError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="goengine-match-") as workdir:
        named = [("--black", args.black, "first"), ("--white", args.white, "second")]
        named += [("--scorer", args.scorer, "scorer")] if args.scorer is not None else []
        lanes = [[_engine(flag, text, label, config.size, os.path.join(workdir, f"{label}-{lane}"))
                  for flag, text, label in named] for lane in range(args.concurrency)]
        specs = [spec for _, spec in lanes[0]]
        if any(spec is not None and spec.kind == "goengine" for spec in specs):
            from goengine.warmup import ensure_warm

            ensure_warm(announce=sys.stderr)  # once here, not in every engine at once
        config = replace(config, ask_to_score=tuple(s is None or s.kind not in opponents.SCORING_IS_A_SEARCH
                                                          for s in specs[:2]))
        return _play_match(args, config, lanes, test)


def _engine(flag: str, text: str, label: str, size: int, folder: str) -> tuple[GtpProcess, opponents.Opponent | None]:
    """The (unstarted) engine that `flag`'s text names, a spec or a command line, and its spec (None for a
    command line); `folder` is made for it (a KataGo writes its config there). UserError of one line if
    it cannot be."""
    from goengine.cli import UserError

    spec = None
    if opponents.is_spec(text):
        try:
            spec = opponents.parse_opponent(text)
        except ValueError as e:
            raise UserError(f"{flag} {e}") from None
        os.mkdir(folder)
        try:
            argv = opponents.command(spec, board_size=size, workdir=folder)
        except ValueError as e:  # goengine.katago.KataGoMissing is one
            raise UserError(f"{flag} {spec}: {e}") from None
    else:
        try:
            argv = shlex.split(text)
        except ValueError as e:  # an unclosed quote
            raise UserError(f"{flag} {text!r}: {e}") from None
    try:
        return GtpProcess(argv, label), spec
    except ValueError as e:  # nothing to run
        raise UserError(f"{flag} {text!r}: {e}") from None


def _start(lanes: list[list[tuple[GtpProcess, opponents.Opponent | None]]]) -> None:
    """Start and name every engine of every lane: a spec's engine by the spec the user gave, any other by
    its GTP name and version, each copy alike; the two sides get " [1]" and " [2]" if their names are the
    same. UserError of one line if one cannot start."""
    from goengine.cli import UserError

    for lane in lanes:
        for engine, spec in lane:
            try:
                engine.ensure_started()
            except OSError as e:
                raise UserError(f"cannot start {' '.join(engine.argv)}: {e.strerror or e}") from None
            try:
                engine.identify(SETUP_TIMEOUT_S)
            except (EngineCrashed, EngineTimeout) as e:
                raise UserError(f"cannot start {' '.join(engine.argv)}: {e}") from None
            if spec is not None:
                engine.label = str(spec)  # the name the user gave, not the program's
        first, second = lane[0][0], lane[1][0]
        if first.label == second.label:
            first.label, second.label = first.label + " [1]", second.label + " [2]"


def _units(config: MatchConfig) -> list[list[int]]:
    """The games in the order lanes take them: colour-swapped pairs stay together (one lane plays both,
    so a pair is complete as soon as it can be), single games when colours do not alternate."""
    step = 2 if config.alternate else 1
    return [list(range(i, min(i + step, config.games))) for i in range(0, config.games, step)]


def _run_lanes(play_lane, lanes: list) -> None:
    """play_lane(lane) for every lane at once, on daemon threads (a lane blocked on an engine never holds
    the process up once the match ends); the first lane error is raised here, and so are Ctrl-C and
    SIGTERM, which the waits below do not block."""
    errors: list[BaseException] = []

    def guarded(lane) -> None:
        try:
            play_lane(lane)
        except BaseException as e:  # noqa: B036 - handed to the main thread, which raises it
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(lane,), name=f"match-lane-{k}", daemon=True)
               for k, lane in enumerate(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not errors:
            thread.join(0.2)
        if errors:
            raise errors[0]


def _play_match(args: argparse.Namespace, config: MatchConfig,
                lanes: list[list[tuple[GtpProcess, opponents.Opponent | None]]],
                test: sprt.SPRT | None = None) -> int:
    """Play config.games games on len(lanes) lanes at once (each lane its own engines, first, second and
    an optional scorer, as cutechess-cli's -concurrency), print each game as it ends and the summary. With
    a test, lanes take no new game once it decides; games already under way are played out and counted."""
    lines = sys.stderr if args.json else sys.stdout
    games: list[GameResult] = []
    decided: dict | None = None
    lock = threading.Lock()
    stopping = threading.Event()  # the match is ending early (an error, Ctrl-C, SIGTERM): no lane starts a game
    todo = collections.deque(_units(config))
    progress = None
    try:
        _start(lanes)
        first, second = lanes[0][0][0].label, lanes[0][1][0].label
        progress = _Progress(config.games, args.progress)  # after the engines start: a failure stays one line

        def play_lane(lane: list[tuple[GtpProcess, opponents.Opponent | None]]) -> None:
            nonlocal decided
            referee = Referee(config, lane[0][0], lane[1][0], lane[2][0] if len(lane) > 2 else None)
            while True:
                with lock:
                    if decided is not None or not todo:
                        return
                    unit = todo.popleft()
                for i in unit:
                    if stopping.is_set():  # checked before each game: its first command would restart engines
                        return
                    game = referee.play_game(i, opening_for_pair(config, args.random_moves, args.seed, i))
                    with lock:
                        if stopping.is_set():  # cut short by the stop (its engines closed): not a result
                            return
                        games.append(game)
                        progress.update()
                        print(f"game {game.index}/{config.games}: {game.black} (B) vs {game.white} (W): "
                              f"{game.result} ({game.reason}, {len(game.moves)} moves, {game.seconds:.1f}s)"
                              + (f" - {game.detail}" if game.reason not in ("score", "move cap", "resign") else ""),
                              file=lines, flush=True)
                        if test is not None and decided is None:
                            status = sprt_status(test, games, first, config.alternate)
                            if status["result"]:
                                decided = status | {"games": len(games)}
                        if decided is not None:
                            return

        if len(lanes) == 1:
            play_lane(lanes[0])
        else:
            _run_lanes(play_lane, lanes)
    finally:
        stopping.set()
        if progress is not None:
            progress.close()
        for lane in lanes:
            for engine, _ in lane:
                engine.close()
    games.sort(key=lambda g: g.index)
    summary = summarise(games, first, second)
    if test is not None:
        # the test's decision is the one it reached; games that lanes had under way are in the figures,
        # and in the LLR after them
        summary["sprt"] = sprt_status(test, games, first, config.alternate)
        if decided is not None:
            summary["sprt"] |= {"result": decided["result"], "decided_after_games": decided["games"],
                                "llr_at_decision": decided["llr"]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        lo, hi = summary["ci95"]
        print(f"{summary['first']}: {summary['wins']} wins, {summary['losses']} losses, {summary['draws']} draws "
              f"in {summary['games']} games against {summary['second']}: score {summary['win_rate']:.3f} "
              f"(95% CI {lo:.3f} to {hi:.3f}), Elo {elo_of_score(summary['win_rate']):+.0f} "
              f"({elo_of_score(lo):+.0f} to {elo_of_score(hi):+.0f})")
        per_move = ", ".join(f"{label} {s:.2f}" for label, s in summary["seconds_per_move"].items() if s is not None)
        print(f"mean seconds per move (genmove round trip): {per_move}")
        if test is not None:
            t = summary["sprt"]
            verdict = {"H1": f"H1 accepted: {summary['first']} is nearer {t['elo1']:+g} Elo than {t['elo0']:+g}",
                       "H0": f"H0 accepted: {summary['first']} is nearer {t['elo0']:+g} Elo than {t['elo1']:+g}",
                       None: "no decision within --games"}[t["result"]]
            print(f"SPRT elo0={t['elo0']:g} elo1={t['elo1']:g} (alpha {t['alpha']:g}, beta {t['beta']:g}): "
                  f"LLR {t['llr']:.2f} in [{t['bounds'][0]:.2f}, {t['bounds'][1]:.2f}] after {t['units']} "
                  f"{t['unit']}s: {verdict}")
    return 0
