"""`goengine gtp`: the GTP engine on stdin/stdout, for Sabaki, GoGui, Lizzie, KGS bridges and referees.

    goengine gtp --engine random --seed 1
    goengine gtp --playouts 800 --resign-threshold 0.05

The player comes from `goengine.players.make_player(args)` when that factory exists (the search
players), else `--engine random` gives `RandomPlayer`. Diagnostics go to stderr; stdout carries GTP only.
"""
from __future__ import annotations

import argparse
import sys

import goengine
from goengine.players import Player, RandomPlayer


def _add(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    try:
        parser.add_argument(*flags, **kwargs)
    except argparse.ArgumentError:  # already declared by players.add_player_arguments
        pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from goengine import players

    shared = getattr(players, "add_player_arguments", None)
    if shared is not None:  # the player's own flags, shared with `goengine play`
        shared(parser)
    else:
        budget = parser.add_mutually_exclusive_group()
        budget.add_argument("--playouts", type=int, default=None, help="playouts per move (search players)")
        budget.add_argument("--seconds", type=float, default=None,
                            help="seconds per move; the game clock (time_settings) may cut it shorter")
    _add(parser, "--engine", choices=("random", "mcts"), default="mcts",
         help="which player answers genmove (default: mcts)")
    _add(parser, "--resign-threshold", type=float, default=0.1,
         help="resign when the player's win rate falls below this (search players)")
    _add(parser, "--seed", type=int, default=None, help="random seed of the player")
    _add(parser, "--threads-free", type=int, default=0,
         help="CPU threads to leave free for an opponent on the same machine (search players)")
    _add(parser, "--size", type=int, default=19, help="board size until boardsize says otherwise")
    _add(parser, "--komi", type=float, default=7.5, help="komi until the komi command says otherwise")
    _add(parser, "--rules", default="chinese",
         help="ko and suicide rules (chinese, tromp-taylor, new-zealand, aga, japanese, simple-ko)")


def build_player(args: argparse.Namespace, stderr=sys.stderr) -> Player:
    if args.engine == "random":
        return RandomPlayer(args.seed)
    from goengine import players

    factory = getattr(players, "make_player", None)
    if factory is None:
        print(f"goengine gtp: no {args.engine} player in this build (goengine.players.make_player is "
              "missing); playing random moves", file=stderr)
        return RandomPlayer(args.seed)
    return factory(args)


def build_engine(args: argparse.Namespace, player: Player | None = None, stderr=sys.stderr):
    """The GtpEngine with the Go commands registered, as `goengine gtp` would serve it."""
    from goengine.gtp.engine import GtpEngine
    from goengine.gtp.handlers import GoHandlers

    player = player if player is not None else build_player(args, stderr)
    engine = GtpEngine("goengine", goengine.__version__, stderr=stderr)
    GoHandlers(player, size=args.size, komi=args.komi, rules=args.rules,
               seconds=args.seconds, playouts=args.playouts).register(engine)
    return engine


def run(args: argparse.Namespace) -> int:
    from goengine.gtp.engine import LineSource, fd_lines
    from goengine.position import Position

    Position(args.size, args.komi, args.rules)  # bad --size/--komi/--rules: one line and exit before serving
    engine = build_engine(args)
    sys.stdout.reconfigure(encoding="utf-8", errors="replace", newline="\n")
    try:
        return engine.serve(LineSource(fd_lines(sys.stdin.fileno())), sys.stdout)
    except BrokenPipeError:  # the controller went away: nothing left to answer
        return 0
