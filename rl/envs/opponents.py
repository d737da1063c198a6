"""The opponents `GoEnv` plays the agent against: each answers `move(position, colour) -> GTP vertex`.

    make_opponent("random")                    uniform among legal moves that fill no own eye (RandomPlayer)
    make_opponent("mc:playouts=4")             flat Monte Carlo: 4 random playouts per sensible move, the
                                               most wins played (the vector env's numba opponent)
    make_opponent("goengine:playouts=8")       goengine's MCTS with rollouts, in this process
    make_opponent("gnugo:level=10")            GNU Go over GTP (any goengine.opponents spec: katago:visits=1, gtp:"...")
    make_opponent(lambda position, colour: "pass")   a callable: GTP vertex, "pass", "resign" or an action index
    make_opponent(player)                      anything with goengine's Player.genmove(position, colour)

Specs are goengine/opponents.py's, so a bad one is the same one-line ValueError as `goengine match` gives.
An opponent is told about a new game by `new_game(position, seed)` and freed by `close()`.
"""
from __future__ import annotations

import argparse
import tempfile
from typing import Callable

import numpy as np

from goengine import coords
from goengine.opponents import command, parse_opponent
from goengine.players import sensible_moves
from goengine.position import Position, parse_colour

GTP_TIMEOUT_S = 60.0


class Opponent:
    """Base: a move for `colour` in `position` (a GTP vertex, "pass" or "resign")."""

    name = "opponent"

    def new_game(self, position: Position, seed: int) -> None:
        """A new game starts from `position`; `seed` comes from the env's generator."""

    def move(self, position: Position, colour: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Free processes and files (safe to call twice)."""


class RandomOpponent(Opponent):
    """Uniform among legal moves that fill no own eye-like point; passes when none is left."""

    name = "random"

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def new_game(self, position, seed):
        self.rng = np.random.default_rng(seed)

    def move(self, position, colour):
        moves = sensible_moves(position, colour)
        return moves[int(self.rng.integers(len(moves)))] if moves else "pass"


def mc_playouts(spec: str) -> int | None:
    """P for an "mc:playouts=P" spec (P >= 1), None for any other spec; ValueError for a malformed mc spec."""
    name, _, rest = spec.strip().partition(":")
    if name != "mc":
        return None
    key, _, value = rest.partition("=")
    if key.strip() != "playouts" or not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"bad opponent {spec!r}: the Monte Carlo opponent is mc:playouts=P with P >= 1")
    return int(value)


class MonteCarloOpponent(Opponent):
    """Flat Monte Carlo, the numba kernel the vector env plays (rl/envs/_kernels.py `mc_values`): every
    sensible move gets P random playouts and the one with the most wins is played. Its playouts use simple
    ko; a move that positional superko forbids in the real game is skipped for the next best."""

    def __init__(self, playouts: int):
        self.playouts = int(playouts)
        self.name = f"mc:playouts={self.playouts}"
        self.rng = np.ones(1, dtype=np.uint64)

    def new_game(self, position, seed):
        self.rng[0] = np.uint64(seed + 1)

    def move(self, position, colour):
        from rl.envs import _kernels as VK

        board = position.board  # a copy: the kernel shuffles its list of empty points
        g = board.geo
        if board.to_play != parse_colour(colour):
            raise ValueError(f"{self.name} plays the side to move only, not {colour}")
        cap = 3 * g.size * g.size
        work_s, work_meta, moves, value_A = VK.scratch(g.n_points, g.size, cap)
        geo = (g.neighbours, g.diagonals, g.zobrist, g.on_board, g.action_of_point, g.empty_colours)
        VK.mc_values(board.s, board.meta, geo, self.rng, self.playouts, float(position.komi), cap, work_s,
                     work_meta, moves, value_A)
        n = g.size * g.size
        legal = position.legal_mask(colour)
        while True:
            a = int(VK.best_action(value_A, self.rng))
            if a == n or value_A[a] < 0:
                return "pass"
            if legal[a]:
                return coords.action_to_gtp(a, g.size)
            value_A[a] = -1.0  # superko forbids it here


class PlayerOpponent(Opponent):
    """A goengine Player (MCTSPlayer, RandomPlayer, a net player) asked with genmove."""

    def __init__(self, player, name: str):
        self.player, self.name = player, name

    def move(self, position, colour):
        return self.player.genmove(position, colour)


class CallableOpponent(Opponent):
    """fn(position, colour) -> GTP vertex, "pass", "resign" or an action index."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.name = getattr(fn, "__name__", "callable")

    def move(self, position, colour):
        out = self.fn(position, colour)
        if isinstance(out, (int, np.integer)):
            return coords.action_to_gtp(int(out), position.size)
        return str(out)


class GtpOpponent(Opponent):
    """An engine over GTP (GNU Go, KataGo, any command), told every move of the game before each genmove."""

    def __init__(self, spec):
        from goengine.gtp.client import GtpProcess

        self.spec = spec
        self.name = str(spec)
        self._dir = tempfile.TemporaryDirectory(prefix="goenv-")
        self._argv_size = None
        self._process: GtpProcess | None = None
        self._told = 0  # moves of the current game the engine has been sent
        self._GtpProcess = GtpProcess

    def _engine(self, size: int):
        if self._process is None or self._argv_size != size:
            if self._process is not None:
                self._process.close()
            argv = command(self.spec, board_size=size, workdir=self._dir.name)
            self._process = self._GtpProcess(argv, self.name)
            self._argv_size = size
        self._process.ensure_started()
        return self._process

    def new_game(self, position, seed):
        engine = self._engine(position.size)
        engine.send(f"boardsize {position.size}", GTP_TIMEOUT_S)
        engine.send("clear_board", GTP_TIMEOUT_S)
        engine.send(f"komi {position.komi:g}", GTP_TIMEOUT_S)
        self._told = 0

    def move(self, position, colour):
        engine = self._engine(position.size)
        for c, vertex in position.history[self._told:]:
            engine.send(f"play {c} {vertex}", GTP_TIMEOUT_S)
        reply = engine.send(f"genmove {colour}", GTP_TIMEOUT_S).strip().upper()
        self._told = len(position.history) + 1
        return "resign" if reply == "RESIGN" else ("pass" if reply == "PASS" else reply)

    def close(self):
        if self._process is not None:
            self._process.close()
            self._process = None
        self._dir.cleanup()


class EngineOpponent(PlayerOpponent):
    """goengine:... specs played in this process (no GTP subprocess): rollout MCTS, or a net with weights=."""

    def __init__(self, spec):
        from goengine.player_registry import make_player

        args = argparse.Namespace(engine=spec.get("engine"), seed=spec.get("seed"), playouts=spec.get("playouts"),
                                  seconds=spec.get("seconds"), weights=spec.get("weights"), lee=spec.get("lee"),
                                  lam=spec.get("lambda"), threads=spec.get("threads"), resign_threshold=0.0,
                                  light=False, inference=None)
        if args.playouts is None and args.seconds is None and args.engine == "mcts":
            args.playouts = 100
        super().__init__(make_player(args), str(spec))


def make_opponent(opponent) -> Opponent:
    """An Opponent from a spec string, an Opponent, a goengine Player, or a callable (see the docstring)."""
    if isinstance(opponent, Opponent):
        return opponent
    if isinstance(opponent, str):
        if opponent.strip() == "random":
            return RandomOpponent()
        playouts = mc_playouts(opponent)
        if playouts is not None:
            return MonteCarloOpponent(playouts)
        spec = parse_opponent(opponent)
        if spec.kind == "goengine":
            return EngineOpponent(spec)
        return GtpOpponent(spec)
    if hasattr(opponent, "genmove"):
        return PlayerOpponent(opponent, getattr(opponent, "name", type(opponent).__name__))
    if callable(opponent):
        return CallableOpponent(opponent)
    raise ValueError(f"opponent must be a spec (random, mc:playouts=P, goengine:playouts=N, gnugo:level=L, "
                     f"katago:visits=V), a Player or a callable, not {opponent!r}")
