"""The `Player` protocol that the GTP engine, `goengine play` and the match referee drive, and the
simplest player: uniform random among sensible moves.

A player is asked for a move given a `Position`; it may keep state between moves (tree reuse) but must
be correct when given any position (after undo, loadsgf, setup). Search players (mcts/) implement the
same protocol with analysis and dead-stone estimates.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol

from goengine import _kernels as K
from goengine import checks, coords
from goengine.position import Position, parse_colour


@dataclass
class AnalysisMove:
    """One candidate of an analysis, in the terms of Leela Zero's lz-analyze `info` lines."""

    move: str
    visits: int
    winrate: float  # for the side to move, 0..1
    prior: float
    lcb: float
    pv: list[str] = field(default_factory=list)


@dataclass
class TimeBudget:
    """How long the next move may take: fixed seconds, or derived from the game clock."""

    seconds: float | None = None
    playouts: int | None = None
    bankable: bool = False
    """`seconds` is a mean per move, not a hard limit: a player may keep what an easy move leaves
    unused and spend it on a hard one."""
    limit_s: float | None = None
    """A hard limit on this move whatever the bank holds (what the game clock allows), or None."""


class Player(Protocol):
    name: str

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        """A GTP vertex, "pass" or "resign" for `colour` in `position`."""
        ...

    def analyze(self, position: Position, colour: str, report: Callable[[list[AnalysisMove]], bool],
                interval_s: float) -> None:
        """Search and call report(candidates) every interval_s seconds until it returns False."""
        ...

    def dead_stones(self, position: Position) -> list[str]:
        """Vertices of the stones this player judges dead."""
        ...


def sensible_moves(position: Position, colour: str | None = None) -> list[str]:
    """Legal board moves that do not fill the mover's own eye-like points."""
    c = position._board.to_play if colour is None else parse_colour(colour)
    board, g = position._board, position._board.geo
    mask = position.legal_mask(None if colour is None else colour)
    out = []
    for a in range(g.size * g.size):
        if mask[a]:
            p = int(g.on_board[a])
            if not K.is_eye(board.s, g.neighbours, g.diagonals, p, c):
                out.append(coords.point_to_gtp(p, g.size))
    return out


class RandomPlayer:
    """Uniform random among sensible moves; passes when none is left. Never resigns."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        moves = sensible_moves(position, colour)
        return self.rng.choice(moves) if moves else "pass"

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        moves = sensible_moves(position, colour) or ["pass"]
        share = 1.0 / len(moves)
        report([AnalysisMove(m, 1, 0.5, share, 0.0, [m]) for m in moves[:10]])

    def dead_stones(self, position: Position) -> list[str]:
        return []


def add_player_arguments(parser) -> None:
    """The flags that choose and tune the engine's player, shared by `goengine gtp` and `goengine play`."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--playouts", type=int, default=None, help="simulations per move")
    budget.add_argument("--seconds", type=float, default=None,
                        help="mean seconds per move (default 1): a decided move stops early and a hard one "
                             "may use the time saved, up to 3x; a GTP game clock makes it a hard limit")
    parser.add_argument("--engine", choices=("mcts", "random"), default="mcts",
                        help="mcts: tree search with playouts (default); random: random sensible moves")
    parser.add_argument("--light", action="store_true", help="uniform random playouts instead of heavy ones")
    parser.add_argument("--resign-threshold", type=float, default=0.1,
                        help="resign below this win rate (0: never)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the player")
    parser.add_argument("--weights", default=None,
                        help="AlphaGo Zero checkpoint (RUN_DIR/best.pt): the search uses this net's priors and values")
    parser.add_argument("--inference", choices=("torch", "ort", "ort-int8"), default=None,
                        help="with --weights: the net's forward pass in torch (default), ONNX Runtime fp32, or "
                             "ONNX Runtime static int8 (about 2x faster on a CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="with --weights: threads of the net's forward pass (default: torch's, all cores; "
                             "ONNX Runtime: 1)")


def make_player(args):
    """The Player that the flags of add_player_arguments describe (search imports stay lazy)."""
    engine = getattr(args, "engine", "mcts")
    seed = getattr(args, "seed", None)
    playouts, seconds = getattr(args, "playouts", None), getattr(args, "seconds", None)
    threshold = getattr(args, "resign_threshold", 0.1)
    inference, threads = getattr(args, "inference", None), getattr(args, "threads", None)
    if seed is not None:
        checks.seed("--seed", seed)
    if playouts is not None:
        checks.integer("--playouts", playouts, 1)
    if seconds is not None:
        checks.number("--seconds", seconds, 0, low_open=True)
    if threads is not None:
        checks.integer("--threads", threads, 1)
    checks.number("--resign-threshold", threshold, 0, 1, high_open=True)
    if engine == "random":
        return RandomPlayer(seed)
    from goengine.mcts.evaluators import RolloutEvaluator
    from goengine.mcts.player import MCTSPlayer, PlayerConfig
    from goengine.mcts.search import SearchConfig

    if not getattr(args, "weights", None):
        for flag, value in (("--inference", inference), ("--threads", threads)):
            if value is not None:
                raise ValueError(f"{flag} is for a net player (--weights); the playout engine runs on one thread")
    else:
        from rl.net_player import make_net_player  # torch is imported only when a net plays

        player = make_net_player(args.weights, playouts, seconds, seed, resign_threshold=threshold,
                                 inference=inference or "torch", threads=threads)
        size = getattr(args, "size", None)
        if getattr(args, "command", None) == "gtp":
            args.size = player.board_size  # GTP starts on the net's board; boardsize may not change it
        elif size is not None and size != player.board_size:
            raise ValueError(f"{args.weights} plays {player.board_size}x{player.board_size}, not {size}x{size}")
        return player
    config = PlayerConfig(playouts=playouts, seconds=seconds if seconds is not None else 1.0,
                          resign_threshold=threshold)
    evaluator = RolloutEvaluator(heavy=not getattr(args, "light", False))
    return MCTSPlayer(config, SearchConfig(seed=seed or 0), evaluator)
