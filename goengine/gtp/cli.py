"""`goengine gtp`: the GTP engine on stdin/stdout, for Sabaki, GoGui, Lizzie, KGS bridges and referees.

    goengine gtp --engine random --seed 1
    goengine gtp --playouts 800 --resign-threshold 0.05
    goengine gtp --seconds 1 --threads 2 --ponder       (docs/threads.md)

The player comes from `goengine.player_registry.make_player(args)` (the flags are shared with `goengine play`).
Diagnostics go to stderr; stdout carries GTP only.
"""
from __future__ import annotations

import argparse
import sys

import goengine
from goengine.player_registry import add_player_arguments, make_player
from goengine.players import Player


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_player_arguments(parser)  # the player's flags, shared with `goengine play`
    parser.add_argument("--size", type=int, default=19, help="board size until boardsize says otherwise")
    parser.add_argument("--komi", type=float, default=7.5, help="komi until the komi command says otherwise")
    parser.add_argument("--rules", default="chinese",
                        help="ko and suicide rules (chinese, tromp-taylor, new-zealand, aga, japanese, simple-ko)")
    parser.add_argument("--ponder", action="store_true",
                        help="playout engine: keep searching on the opponent's time, from after genmove until the "
                             "next command that needs the engine (the opponent's move keeps its subtree)")


def build_engine(args: argparse.Namespace, player: Player | None = None, stderr=sys.stderr):
    """The GtpEngine with the Go commands registered, as `goengine gtp` would serve it."""
    from goengine.gtp.engine import GtpEngine
    from goengine.gtp.handlers import GoHandlers

    player = player if player is not None else make_player(args)
    engine = GtpEngine("goengine", goengine.__version__, stderr=stderr)
    GoHandlers(player, size=args.size, komi=args.komi, rules=args.rules, seconds=args.seconds,
               playouts=args.playouts, ponder=getattr(args, "ponder", False)).register(engine)
    return engine


def run(args: argparse.Namespace) -> int:
    from goengine.gtp.engine import LineSource, fd_lines
    from goengine.position import Position
    from goengine.warmup import ensure_warm

    Position(args.size, args.komi, args.rules)  # bad --size/--komi/--rules: one line and exit before serving
    if args.ponder and (args.engine != "mcts" or args.weights or args.lee):
        raise ValueError("--ponder is for the playout engine (the default --engine mcts)")
    # a cold cache compiles now, before the first answer (a controller's start-up time), not in the
    # first genmove, which a referee times
    ensure_warm(announce=sys.stderr)
    engine = build_engine(args)
    sys.stdout.reconfigure(encoding="utf-8", errors="replace", newline="\n")
    try:
        return engine.serve(LineSource(fd_lines(sys.stdin.fileno())), sys.stdout)
    except BrokenPipeError:  # the controller went away: nothing left to answer
        return 0
