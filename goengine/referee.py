"""The referee of one game between two GTP engines (`Referee.play_game`), used by `goengine match`
(goengine/match.py), the strength ladder, `goengine data generate` and the benchmarks.

The referee keeps its own `Position` and checks every move; a side loses by forfeit ("F") for an illegal
move, a crash, a failed command or refusing a legal move of its opponent, by time ("T") when a move takes
longer than MatchConfig.seconds_per_move plus grace_s, and by resignation ("R"). Games that end by two
passes, or at the move cap, are scored: by the `scorer` engine's `final_score` when there is one (it is
sent the game: `boardsize`, `clear_board`, `komi`, the handicap stones, every move; as gogui-twogtp's
-referee), so that a game where one engine passed with the other's dead stones still on the board is
scored as a player would score it; else, or if the scorer fails, by the engines' `final_score` when both
agree, else Tromp-Taylor area on the final position after removing the stones that both engines list
as dead (`final_status_list dead`). An engine whose scoring is a search (KataGo's `final_score` takes
about a minute) is not asked (MatchConfig.ask_to_score): its games are Tromp-Taylor on the board as it
stands, the engines having played them out. A crashed or timed-out engine is started afresh for the
next game.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from goengine import checks, coords
from goengine.gtp.client import EngineCrashed, EngineFailure, EngineTimeout, GtpProcess
from goengine.handicap import fixed_handicap_vertices
from goengine.match_stats import GameResult
from goengine.position import IllegalMove, Position

SETUP_TIMEOUT_S = 120.0  # the first commands wait for imports and JIT compilation
COMMAND_TIMEOUT_S = 30.0  # play, final_score, ...: instant for a sane engine
SCORER_TIMEOUT_S = 120.0  # the scorer's final_score reads the whole board (GNU Go: about 1 s on 9x9)
NO_LIMIT_MOVE_TIMEOUT_S = 3600.0  # without --seconds-per-move: only a guard against a hung engine


@dataclass(frozen=True)
class MatchConfig:
    games: int = 2
    """Number of games."""
    size: int = 9
    """Board size."""
    komi: float = 7.0
    """Komi, also in handicap games."""
    handicap: int = 0
    """Handicap stones for Black: `fixed_handicap` on the Black engine, `set_free_handicap` on White."""
    max_moves: int = 0
    """Stop and score after this many moves (0: size*size*3, a cap no sane game reaches)."""
    seconds_per_move: float | None = None
    """Per-move time limit, sent as `time_settings 0 S 1`; None for no limit."""
    grace_s: float = 1.0
    """Seconds past the limit before a move is a loss on time (pipes and process start-up)."""
    alternate: bool = True
    """Swap colours every game."""
    rules: str = "chinese"
    """Rules the referee judges legality by (goengine.rules)."""
    out_dir: str | None = None
    """Where to write one SGF per game."""
    ask_to_score: tuple[bool, bool] = (True, True)
    """Whether to ask the first and the second engine for `final_score` and `final_status_list dead`. False
    for an engine whose scoring runs a search (KataGo's takes about a minute); if either is False, finished
    games are Tromp-Taylor on the board as it stands."""

    def __post_init__(self) -> None:
        checks.integer("games", self.games, 1)
        checks.integer("max_moves", self.max_moves, 0)
        if self.seconds_per_move is not None:
            checks.number("seconds_per_move", self.seconds_per_move, 0, low_open=True)
        checks.number("grace_s", self.grace_s, 0)

    @property
    def move_cap(self) -> int:
        return self.max_moves or self.size * self.size * 3


def parse_score(text: str) -> float | None:
    """A GTP final_score answer -> points for Black (negative: White leads), None if not a number."""
    t = text.strip().upper()
    if t in ("0", "DRAW", "JIGO"):
        return 0.0
    if len(t) < 3 or t[0] not in "BW" or t[1] != "+":
        return None
    try:
        value = float(t[2:])
    except ValueError:
        return None
    return value if t[0] == "B" else -value


class _Forfeit(Exception):
    def __init__(self, colour: str, reason: str, detail: str):
        super().__init__(detail)
        self.colour, self.reason, self.detail = colour, reason, detail


def _other(colour: str) -> str:
    return "w" if colour == "b" else "b"


class Referee:
    """Plays games between two GtpProcess engines, keeping them alive across games; `scorer`, a third
    engine, scores the games that end by passes or the move cap (None: the engines do, see _score)."""

    def __init__(self, config: MatchConfig, first: GtpProcess, second: GtpProcess,
                 scorer: GtpProcess | None = None):
        self.config, self.first, self.second, self.scorer = config, first, second, scorer

    def _send(self, engine: GtpProcess, colour: str, command: str, timeout: float) -> str:
        """A command whose failure forfeits the game for `colour`."""
        try:
            return engine.send(command, timeout)
        except EngineTimeout as e:
            engine.kill()  # a late answer would desynchronise the pipe: start afresh next game
            raise _Forfeit(colour, "timeout", str(e)) from None
        except EngineCrashed as e:
            raise _Forfeit(colour, "crash", str(e)) from None
        except EngineFailure as e:
            raise _Forfeit(colour, "failure", f"{command.split()[0]}: {e}") from None

    def _tell(self, engine: GtpProcess, side: str, colour: str, vertex: str) -> None:
        """`play colour vertex` to the engine playing `side`, which forfeits if it refuses the legal move."""
        try:
            self._send(engine, side, f"play {colour} {vertex}", COMMAND_TIMEOUT_S)
        except _Forfeit as f:
            if f.reason == "failure":
                f.detail = f"refused the legal move {colour} {vertex}: {f.detail}"
            raise

    def _setup(self, engines: dict[str, GtpProcess]) -> Position:
        cfg = self.config
        position = Position(cfg.size, cfg.komi, cfg.rules)
        for colour, engine in engines.items():
            engine.ensure_started()
            self._send(engine, colour, f"boardsize {cfg.size}", SETUP_TIMEOUT_S)
            self._send(engine, colour, "clear_board", COMMAND_TIMEOUT_S)
            self._send(engine, colour, f"komi {cfg.komi:g}", COMMAND_TIMEOUT_S)
            if cfg.seconds_per_move:
                try:  # optional: an engine without time_settings is still held to the limit
                    self._send(engine, colour, f"time_settings 0 {cfg.seconds_per_move:g} 1", COMMAND_TIMEOUT_S)
                except _Forfeit as f:
                    if f.reason != "failure":
                        raise
        if cfg.handicap >= 2:
            reply = self._send(engines["b"], "b", f"fixed_handicap {cfg.handicap}", COMMAND_TIMEOUT_S)
            vertices = reply.split()
            try:
                position = position.with_handicap(cfg.handicap, free=vertices)
            except ValueError as e:
                raise _Forfeit("b", "failure", f"fixed_handicap {cfg.handicap} gave {reply!r}: {e}") from None
            if sorted(v.upper() for v in vertices) != sorted(fixed_handicap_vertices(cfg.handicap, cfg.size)):
                raise _Forfeit("b", "failure", f"fixed_handicap {cfg.handicap} gave {reply!r}, not GTP's placement")
            self._send(engines["w"], "w", "set_free_handicap " + " ".join(vertices), COMMAND_TIMEOUT_S)
        return position

    def _move_timeout(self) -> float:
        s = self.config.seconds_per_move
        return s + self.config.grace_s if s else NO_LIMIT_MOVE_TIMEOUT_S

    def _scorer_says(self, setup: Position, position: Position) -> tuple[float | None, str]:
        """(points for Black, "") from the scorer's final_score on the game replayed to it, or (None, why)."""
        scorer, cfg = self.scorer, self.config
        handicap = [v for v in (coords.action_to_gtp(a, cfg.size) for a in range(cfg.size * cfg.size))
                    if setup.colour_at(v) == "b"]
        commands = [f"boardsize {cfg.size}", "clear_board", f"komi {cfg.komi:g}"]
        commands += ["set_free_handicap " + " ".join(handicap)] if handicap else []
        commands += [f"play {colour} {vertex}" for colour, vertex in position.history]
        sent = "start"
        try:
            scorer.ensure_started()
            for sent in commands:
                scorer.send(sent, SETUP_TIMEOUT_S if sent.startswith("boardsize") else COMMAND_TIMEOUT_S)
            sent = "final_score"
            answer = scorer.send(sent, SCORER_TIMEOUT_S)
        except OSError as e:
            return None, f"scorer {scorer.label} did not start: {e.strerror or e}"
        except EngineTimeout as e:
            scorer.kill()  # a late answer would desynchronise the pipe: start afresh next game
            return None, f"scorer {scorer.label}: {e}"
        except (EngineFailure, EngineCrashed) as e:
            return None, f"scorer {scorer.label} failed at {sent!r}: {e}"
        score = parse_score(answer)
        return (score, "") if score is not None else (None, f"scorer {scorer.label} answered {answer!r}")

    def _score(self, engines: dict[str, GtpProcess], setup: Position, position: Position) -> tuple[str, str]:
        """(result, how) for a finished game: the scorer's final_score when there is a scorer; else (or if it
        fails) the engines' agreed final_score, else Tromp-Taylor after the dead stones both list."""
        fallback = ""
        if self.scorer is not None:
            score, fallback = self._scorer_says(setup, position)
            if score is not None:
                return _result_from(score), f"scored by {self.scorer.label}"
            fallback = f" ({fallback})"
        unasked = [e.label for e, ask in zip((self.first, self.second), self.config.ask_to_score) if not ask]
        if unasked:
            return (_result_from(position.score()),
                    f"Tromp-Taylor ({' and '.join(unasked)} not asked to score){fallback}")
        scores = [parse_score(_ask(engine, "final_score") or "") for engine in engines.values()]
        if scores[0] is not None and scores[1] is not None and abs(scores[0] - scores[1]) < 1e-9:
            return _result_from(scores[0]), "engines agree"
        dead_sets = [{v.upper() for v in (_ask(engine, "final_status_list dead") or "").split()}
                     for engine in engines.values()]
        agreed = sorted(v for v in dead_sets[0] & dead_sets[1] if _stone_at(position, v))
        cleaned = position.with_stones(empty=agreed) if agreed else position
        return (_result_from(cleaned.score()),
                f"Tromp-Taylor, {len(agreed)} agreed dead (engines said {scores}){fallback}")

    def play_game(self, index: int, opening: Sequence[str] = ()) -> GameResult:
        """Game `index` (0-based; odd ones swap colours when alternating). `opening`: moves (GTP vertices)
        played first, alternately from the side that starts, on the referee's Position and sent to both
        engines with `play` (an engine refusing one forfeits); IllegalMove if the referee's rules refuse one."""
        cfg = self.config
        swap = cfg.alternate and index % 2 == 1
        engines = {"b": self.second, "w": self.first} if swap else {"b": self.first, "w": self.second}
        labels = {c: e.label for c, e in engines.items()}
        started = time.monotonic()
        position = Position(cfg.size, cfg.komi, cfg.rules)
        setup = position
        moves: list[str] = []
        think = {"b": 0.0, "w": 0.0}
        answered = {"b": 0, "w": 0}
        try:
            position = setup = self._setup(engines)
            colour = "w" if cfg.handicap >= 2 else "b"
            for vertex in opening:
                position = position.play(vertex, colour)
                vertex = position.history[-1][1]
                moves.append(vertex)
                for side in ("b", "w"):
                    self._tell(engines[side], side, colour, vertex)
                colour = _other(colour)
            while len(moves) < cfg.move_cap and position.passes < 2:
                asked = time.monotonic()
                reply = self._send(engines[colour], colour, f"genmove {colour}", self._move_timeout())
                think[colour] += time.monotonic() - asked
                answered[colour] += 1
                move = (reply.split() or [""])[0]
                if move.lower() == "resign":
                    raise _Forfeit(colour, "resign", f"{colour} resigned")
                try:
                    position = position.play(move, colour)
                except IllegalMove as e:
                    raise _Forfeit(colour, "illegal move", str(e)) from None
                vertex = position.history[-1][1]
                moves.append(vertex)
                self._tell(engines[_other(colour)], _other(colour), colour, vertex)
                colour = _other(colour)
            result, how = self._score(engines, setup, position)
            reason = "score" if position.passes >= 2 else "move cap"
            winner = None if result == "0" else result[0].lower()
            detail = how
        except _Forfeit as f:
            winner = _other(f.colour)
            letter = {"resign": "R", "timeout": "T"}.get(f.reason, "F")
            result, reason, detail = f"{winner.upper()}+{letter}", f.reason, f.detail
        game = GameResult(index + 1, labels["b"], labels["w"], winner, result, reason, detail, moves,
                          round(time.monotonic() - started, 3), think_seconds=think, genmoves=answered)
        if cfg.out_dir:
            game.sgf = _save_sgf(cfg, game, setup, position)
        return game


def _ask(engine: GtpProcess, command: str) -> str | None:
    """A command whose failure costs nothing but its answer (scoring): None if it fails."""
    try:
        return engine.send(command, COMMAND_TIMEOUT_S)
    except EngineTimeout:
        engine.kill()
    except (EngineFailure, EngineCrashed):
        pass
    return None


def _stone_at(position: Position, vertex: str) -> bool:
    try:
        return position.colour_at(vertex) is not None
    except ValueError:
        return False


def _result_from(score: float) -> str:
    from goengine.position import result_string

    return result_string(score)


def _save_sgf(cfg: MatchConfig, game: GameResult, setup: Position, final: Position) -> str:
    """Write the game to out_dir/game-NNN.sgf."""
    from goengine import sgf

    os.makedirs(cfg.out_dir, exist_ok=True)
    path = os.path.join(cfg.out_dir, f"game-{game.index:03d}.sgf")
    sgf.save_game(path, [setup, final], result=game.result, black_name=game.black, white_name=game.white)
    return path


def random_opening(position: Position, count: int, seed: int) -> list[str]:
    """Up to `count` moves from `position`, each uniform over the side to move's legal moves that are not
    a pass and fill no eye-like point of its own (fewer if none is left)."""
    rng = np.random.default_rng(seed)
    moves = []
    for _ in range(count):
        candidates = [v for v in position.legal_moves() if v != "pass" and not position.is_eye_like(v)]
        if not candidates:
            break
        vertex = candidates[int(rng.integers(len(candidates)))]
        position = position.play(vertex)
        moves.append(vertex)
    return moves


def opening_for_pair(config: MatchConfig, random_moves: int, seed: int, index: int) -> list[str]:
    """The random opening of game `index`: games 2k and 2k+1 share one (their colours are swapped when
    alternating), so a pair compares the engines on the same position."""
    if not random_moves:
        return []
    pair = index // 2 if config.alternate else index
    return random_opening(Position(config.size, config.komi, config.rules), random_moves,
                          int(np.random.SeedSequence([seed, pair]).generate_state(1)[0]))
