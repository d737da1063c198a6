"""The gating arena: a match between two nets playing as MCTS players at equal visits (AlphaGo Zero,
Silver et al. 2017, Methods "Evaluator": the candidate plays the best net, and replaces it when it wins
by a margin of 55%).

    result = play_match(candidate, best, board_size=9, komi=7.0, games=40, visits=100, seed=3)
    result.score          # candidate's wins + draws/2, over games

Each net is a PUCT search (goengine.mcts.search) over `NetEvaluator` priors and values, without
Dirichlet noise, searching until the root has `visits` visits (each side reuses its own subtree, whose
visits count, as in the self-play worker). Colours alternate: game 2k gives net A Black, game 2k+1
White. For the games of one match to differ, the first `opening_moves` plies are drawn in proportion to
the visit counts (temperature 1, as in self-play); after them each side plays its most visited move. Games 2k and 2k+1 draw their openings from one seeded
generator, so a net played against itself plays the same game twice with the colours swapped.

A game ends with two passes (Tromp-Taylor area score with komi), a resignation (if a threshold is
set), or the move cap (scored as it stands). A side passes at once when its opponent has passed and
passing wins by area score.

Speed: many games run at once, and on every round each tree gives a few leaves (virtual loss keeps them
apart); the leaves of all trees searching for one net go to that net in one call, so the net sees large
batches even at few visits per tree.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from goengine import coords
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.position import Position


@dataclass(frozen=True)
class ArenaConfig:
    board_size: int
    komi: float = 7.0
    games: int = 40
    """Games in the match; colours alternate, so an even number is fair."""
    visits: int = 100
    """Root visits per move for both sides (a reused subtree's visits count, as Leela Zero's --visits
    and the self-play worker's)."""
    seed: int = 0
    """Seeds the opening draws (the search itself is deterministic for a given net)."""
    opening_moves: int = 4
    """Plies drawn at temperature 1 from the visit counts before best-move play."""
    parallel_games: int = 16
    """Games played at once (their leaves share net calls)."""
    leaves_per_round: int = 8
    """Leaves each tree gathers, with virtual loss, per net call."""
    max_moves: int = 0
    """Move cap of a game; 0 means 2 N²."""
    resign_threshold: float = 0.0
    """Resign when the root's win rate and the best move's are both below this (0: never)."""
    rules: str = "chinese"
    c_puct: float = 1.5

    def __post_init__(self) -> None:
        if self.games < 1 or self.visits < 1 or self.parallel_games < 1 or self.leaves_per_round < 1:
            raise ValueError("games, visits, parallel_games and leaves_per_round must be positive")
        if not 0 <= self.resign_threshold < 1:
            raise ValueError(f"resign_threshold must be in [0, 1), not {self.resign_threshold}")


@dataclass(frozen=True)
class GameSummary:
    a_colour: str  # "b" or "w"
    result: str  # SGF RE: "B+3", "W+R", "0"
    winner: str | None  # "a", "b" or None (jigo)
    moves: tuple[str, ...]


@dataclass
class MatchResult:
    """Net A's record against net B."""

    wins_a: int
    losses_a: int
    draws: int
    games: int
    summaries: list[GameSummary] = field(default_factory=list)

    @property
    def score(self) -> float:
        """A's wins plus half its draws, over games."""
        return (self.wins_a + 0.5 * self.draws) / self.games if self.games else 0.5


def as_evaluator(net, board_size: int, batch_size: int = 512):
    """A batch evaluator (anything with `evaluate`) as it is, or a torch net wrapped in NetEvaluator."""
    if hasattr(net, "evaluate"):
        return net
    from rl.alphago_zero.evaluator import NetEvaluator

    return NetEvaluator(net, board_size, batch_size=batch_size)


class _Slot:
    """One game in progress: its position, a search per net, and its opening generator."""

    def __init__(self, config: ArenaConfig, searches: dict[str, Search]):
        self.config = config
        self.searches = searches
        self.index = -1
        self.position: Position | None = None
        self.rng: np.random.Generator | None = None
        self.sims_left = 0

    def start(self, index: int) -> None:
        c = self.config
        self.index = index
        self.a_colour = "b" if index % 2 == 0 else "w"
        self.position = Position(c.board_size, c.komi, c.rules)
        self.rng = np.random.default_rng([c.seed, index // 2])
        self.resigned_by: str | None = None

    def mover(self) -> str:
        return "a" if self.position.to_play == self.a_colour else "b"

    def search(self) -> Search:
        return self.searches[self.mover()]


def _forced_move(position: Position) -> str | None:
    """Pass without searching when it is the only legal move or when it wins after the opponent's pass."""
    if len(position.legal_moves()) == 1:
        return "pass"
    if position.last_move == "pass":
        sign = 1 if position.to_play == "b" else -1
        if position.score() * sign > 0:
            return "pass"
    return None


def _choose(slot: _Slot, config: ArenaConfig) -> str:
    search = slot.search()
    size = config.board_size
    if len(slot.position.history) < config.opening_moves:
        counts = search.visit_counts().astype(np.float64)
        if counts.sum() > 0:
            return coords.action_to_gtp(int(slot.rng.choice(len(counts), p=counts / counts.sum())), size)
    best = search.chosen_child()
    if best is None:
        return "pass"
    if config.resign_threshold > 0 and max(search.winrate(best), search.root_winrate()) < config.resign_threshold:
        return "resign"
    return coords.point_to_gtp(int(search.nodes[best]["move"]), size)


def _search_all(slots: list[_Slot], evaluators: dict[str, object], config: ArenaConfig) -> None:
    """Run every slot's current search to config.visits root visits, one net call per net per round."""
    from rl.alphago_zero.evaluator import concat_batches

    for slot in slots:
        search = slot.search()
        search.set_root(slot.position)
        slot.sims_left = config.visits - int(search.nodes[0]["visits"])
        if search.nodes[0]["first_child"] < 0:
            slot.sims_left = max(slot.sims_left, 1)
    while True:
        pending: dict[str, list] = {"a": [], "b": []}
        for slot in slots:
            if slot.sims_left <= 0:
                continue
            search = slot.search()
            # a fresh root takes one leaf: every walk would stop at it, and its children need priors first
            n = 1 if search.nodes[0]["first_child"] < 0 else min(config.leaves_per_round, slot.sims_left)
            pending[slot.mover()].append((slot, search.collect(n)))
        if not pending["a"] and not pending["b"]:
            return
        for label, group in pending.items():
            if not group:
                continue
            priors_BA, values_B = evaluators[label].evaluate(concat_batches([p.batch for _, p in group]))
            start = 0
            for slot, p in group:
                end = start + len(p.leaf_nodes)
                slot.sims_left -= slot.search().apply(p, priors_BA[start:end], values_B[start:end])
                start = end


def _finish(slot: _Slot) -> GameSummary:
    pos = slot.position
    if slot.resigned_by is not None:
        winner_colour = "w" if slot.resigned_by == "b" else "b"
        result = winner_colour.upper() + "+R"
    else:
        score = pos.score()
        winner_colour = "b" if score > 0 else "w" if score < 0 else None
        result = pos.result()
    winner = None if winner_colour is None else ("a" if winner_colour == slot.a_colour else "b")
    return GameSummary(slot.a_colour, result, winner, tuple(v for _, v in pos.history))


def run_match(net_a, net_b, config: ArenaConfig) -> MatchResult:
    """Play config.games games between net A and net B (torch nets or batch evaluators)."""
    evaluators = {"a": as_evaluator(net_a, config.board_size), "b": as_evaluator(net_b, config.board_size)}
    n2 = config.board_size ** 2
    max_moves = config.max_moves or 2 * n2
    # room for the simulations of a move plus a kept subtree of as many; a full tree stops expanding
    search_config = SearchConfig(tree_nodes=4 * (config.visits + config.leaves_per_round) * (n2 + 1),
                                 batch_size=config.leaves_per_round, c_puct=config.c_puct, seed=config.seed)
    slots = [_Slot(config, {"a": Search(evaluators["a"], search_config), "b": Search(evaluators["b"], search_config)})
             for _ in range(min(config.parallel_games, config.games))]
    next_game = 0
    for slot in slots:
        slot.start(next_game)
        next_game += 1
    active = list(slots)
    summaries: list[GameSummary | None] = [None] * config.games
    while active:
        forced = [_forced_move(s.position) for s in active]
        _search_all([s for s, f in zip(active, forced) if f is None], evaluators, config)
        still = []
        for slot, move in zip(active, forced):
            move = move or _choose(slot, config)
            if move == "resign":
                slot.resigned_by = slot.position.to_play
            else:
                slot.position = slot.position.play(move)
            if slot.resigned_by is not None or slot.position.is_over or len(slot.position.history) >= max_moves:
                summaries[slot.index] = _finish(slot)
                if next_game < config.games:
                    slot.start(next_game)
                    next_game += 1
                else:
                    continue
            still.append(slot)
        active = still
    wins = sum(1 for s in summaries if s.winner == "a")
    losses = sum(1 for s in summaries if s.winner == "b")
    return MatchResult(wins, losses, config.games - wins - losses, config.games, summaries)


def play_match(net_a, net_b, board_size: int, komi: float = 7.0, games: int = 40, visits: int = 100,
               seed: int = 0, **options) -> MatchResult:
    """Net A against net B: `games` games at `visits` root visits per move, colours alternating.
    `options` are further ArenaConfig fields (opening_moves, parallel_games, resign_threshold, ...)."""
    return run_match(net_a, net_b, ArenaConfig(board_size=board_size, komi=komi, games=games, visits=visits,
                                               seed=seed, **options))


def load_net(path, board_size: int):
    """A net from a checkpoint (nets.go.checkpoint), refused with CheckpointError if for another board."""
    from nets.go.checkpoint import load

    model, _ = load(path, board_size=board_size)
    return model
